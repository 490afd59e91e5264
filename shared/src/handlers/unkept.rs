//! A connections route in a process that keeps none (Lambda without `CONNECTIONS_TABLE`).

use lambda_http::Request;

use super::{Context, Serve, Service};
use crate::access::Access;
use crate::error::{Error, Result};
use crate::resources::Resources;
use crate::response::Response;
use crate::routes::Function;

/// Answers 503, behind the same guard and CORS as where connections are kept: a caller without
/// a key learns nothing of the configuration.
pub struct Unkept;

impl Serve for Unkept {
    async fn serve(&self, _: Request, _: &Context) -> Result<Response> {
        Err(Error::NotConfigured {
            hint: "This deployment keeps no connections: set CONNECTIONS_TABLE",
        })
    }
}

impl Service<Unkept> {
    pub fn unkept(function: Function, resources: &Resources) -> Self {
        Service {
            function,
            access: Access::new(&resources.config),
            handler: Unkept,
        }
    }
}
