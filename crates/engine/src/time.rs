//! UTC timestamps as `yyyy-MM-ddTHH:mm:ssZ` (the providers' format): the domain's.

pub use baton_domain::time::rfc3339;
