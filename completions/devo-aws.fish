# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_devo_aws_global_optspecs
    string join \n config= dry-run force max-messages= deadline= start-time= end-time= shard= log-format= metrics-file= pushgateway= report= v/verbose q/quiet h/help V/version
end

function __fish_devo_aws_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_devo_aws_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_devo_aws_using_subcommand
    set -l cmd (__fish_devo_aws_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c devo-aws -n "__fish_devo_aws_needs_command" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -s V -l version -d 'Print version'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "events" -d 'CloudWatch Events / EventBridge events from SQS (service-events-all)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "securityhub" -d 'Security Hub findings from SQS (sqs-cloudwatch-consumer)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "audit" -d 'CloudTrail events from the API or S3+SQS (audit-events-all)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "metrics" -d 'CloudWatch metrics (metrics-all)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "flowlogs" -d 'VPC Flow Logs from S3+SQS (non-cloudwatch-logs, type flowlogs)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "cloudfront" -d 'CloudFront standard logs from S3+SQS (non-cloudwatch-logs, type cloudfrontlogs)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "logs" -d 'CloudWatch Logs groups (custom_service, type logs)'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "s3logs" -d 'Logs AWS writes to S3, announced on SQS (non-cloudwatch-logs): ALB, ELB and NLB access logs, WAF, S3 server access, Route 53 Resolver, GuardDuty findings, Network Firewall, AWS Config, CloudWatch Logs through Firehose; VPC Flow Logs and CloudFront; a log archive of every kind on one queue; and the kinds the config defines'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "all" -d 'Every service the config defines, concurrently'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "check" -d 'Check the config, credentials, queues, log groups and the Devo connection; pull nothing'
complete -c devo-aws -n "__fish_devo_aws_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand events" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand securityhub" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand audit" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand metrics" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand flowlogs" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand cloudfront" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand logs" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand s3logs" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand all" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l config -d 'The config file [default: config/config.yaml, or config/$CONFIG_FILE when set]' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l max-messages -d 'Stop receiving after N messages per service (1 or more; leave it out for no limit)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l deadline -d 'The run\'s time budget: stop pulling then, deliver, acknowledge and exit (e.g. 90s, 4m)' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l start-time -d 'Backfill from TIME (RFC 3339, or a duration ago such as 2h) for this run only; saved cursors do not move. S3 services replay the window from their buckets (s3_buckets), not their queues; with check, says where a replay would list' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l end-time -d 'Backfill up to TIME (RFC 3339, or a duration ago) [default: now]' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l shard -d 'Pull only this worker\'s share of the work, worker I of N (from 1): regions by their position in the config, CloudWatch Logs groups by a hash of their name' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l log-format -d 'Log format on stderr' -r -f -a "text\t''
json\t''"
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l metrics-file -d 'Write the run\'s Prometheus metrics to FILE (atomically), for node_exporter\'s textfile collector' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l pushgateway -d 'Push the run\'s Prometheus metrics to a Pushgateway at URL (grouped by job, input id and shard); a failed push is a warning' -r
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l report -d 'Write the run\'s figures as JSON to FILE (- for standard output)' -r -F
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l dry-run -d 'Print each event with its tag to stdout; acknowledge nothing, write no state'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -l force -d 'Pull even if the service\'s request_period_in_seconds has not passed'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -s v -l verbose -d 'More log detail (-v info, -vv debug, -vvv trace)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -s q -l quiet -d 'Errors only, no summary'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand check" -s h -l help -d 'Print help'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "events" -d 'CloudWatch Events / EventBridge events from SQS (service-events-all)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "securityhub" -d 'Security Hub findings from SQS (sqs-cloudwatch-consumer)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "audit" -d 'CloudTrail events from the API or S3+SQS (audit-events-all)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "metrics" -d 'CloudWatch metrics (metrics-all)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "flowlogs" -d 'VPC Flow Logs from S3+SQS (non-cloudwatch-logs, type flowlogs)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "cloudfront" -d 'CloudFront standard logs from S3+SQS (non-cloudwatch-logs, type cloudfrontlogs)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "logs" -d 'CloudWatch Logs groups (custom_service, type logs)'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "s3logs" -d 'Logs AWS writes to S3, announced on SQS (non-cloudwatch-logs): ALB, ELB and NLB access logs, WAF, S3 server access, Route 53 Resolver, GuardDuty findings, Network Firewall, AWS Config, CloudWatch Logs through Firehose; VPC Flow Logs and CloudFront; a log archive of every kind on one queue; and the kinds the config defines'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "all" -d 'Every service the config defines, concurrently'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "check" -d 'Check the config, credentials, queues, log groups and the Devo connection; pull nothing'
complete -c devo-aws -n "__fish_devo_aws_using_subcommand help; and not __fish_seen_subcommand_from events securityhub audit metrics flowlogs cloudfront logs s3logs all check help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
