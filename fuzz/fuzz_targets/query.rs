//! The query lexer and parser on arbitrary text: an error, never a panic, and the error
//! renders (caret line included).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parts: Vec<String> = text.split('\n').map(str::to_string).collect();
    match auditq::query::parse_query(&parts) {
        Ok(expr) => {
            let _ = auditq::prefilter::Prefilter::new(&expr);
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for part in &parts {
        let _ = auditq::sink::parse_field_list(part);
    }
});
