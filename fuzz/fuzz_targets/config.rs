//! The config parser and validator: any bytes give a config or an error, never a panic; and a
//! config that passes validation names no state file or object outside its directory or prefix.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code, unused_imports)]

#[path = "../../src/bill.rs"]
mod bill;
#[path = "../../src/config/mod.rs"]
mod config;
#[path = "../../src/formats/mod.rs"]
mod formats;
#[path = "../../src/window.rs"]
mod window;

use std::path::{Component, Path};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok((config, _)) = config::parse(text) else {
        return;
    };
    if config.validate().is_err() {
        return;
    }
    let input = &config.inputs.aws.id.0;
    assert!(config::is_safe_id(input) && config::is_safe_id(&config.globals.id.0));
    // The built-in services and those the config defines (whose names come from the file).
    for kind in config.inputs.aws.services.kinds() {
        // What the state backends name after a service: `<dir>/<input>.<service>.json`,
        // `<prefix><input>.<service>/...`.
        let key = format!("{input}.{}", kind.name());
        let file = Path::new("state").join(format!("{key}.json"));
        assert!(
            file.components().count() == 2
                && file.components().all(|c| matches!(c, Component::Normal(_))),
            "{file:?} leaves the state directory"
        );
        assert!(!key.contains('/') && key != ".." && key != ".");
    }
    let prefix = &config.globals.persistence.config.prefix;
    assert!(!prefix.starts_with('/') && !prefix.split('/').any(|p| p == ".."));
});
