//! The config parser and validator: any bytes give a config or an error, never a panic.
#![no_main]
// Only part of the module is fuzzed here.
#![allow(dead_code, unused_imports)]

#[path = "../../src/config/mod.rs"]
mod config;
#[path = "../../src/window.rs"]
mod window;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok((config, _)) = config::parse(text)
    {
        let _ = config.validate();
    }
});
