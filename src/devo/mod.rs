//! Everything about Devo: tags, the syslog framing of one event, the mutual-TLS connection and
//! the shipper that groups writes into delivery epochs whose clean close is the receipt.

pub mod frame;
pub mod shipper;
pub mod tag;
pub mod tls;
