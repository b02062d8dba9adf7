//! The config parser and validator: any bytes give a config or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok((config, _)) = devo_aws::config::parse(text)
    {
        let _ = config.validate();
    }
});
