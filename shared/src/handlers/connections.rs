//! `GET /connections?org_id=…[&user_id=…][&provider=…][&limit=…][&cursor=…]`: an org's
//! connections, a page at a time.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Context, Handler, Serve};
use crate::connections::{ConnectionStore, ConnectionStoreError};
use crate::error::{Error, Result};
use crate::keeper::{Keeper, Metadata};
use crate::request::Fields;
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;

/// The page size without a `limit`; at most [`crate::connections::MAX_PAGE`].
pub const DEFAULT_LIMIT: usize = 50;

/// A page of an org's connections; `next_cursor` is `null` on the last one.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConnectionsPage {
    pub connections: Vec<Metadata>,
    pub next_cursor: Option<String>,
}

pub struct Connections {
    keeper: Arc<Keeper>,
}

impl Handler for Connections {
    const FUNCTION: Function = Function::Connections;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Connections {
            keeper: resources.required_keeper().await?,
        })
    }
}

impl Serve for Connections {
    async fn serve(&self, request: Request, _: &Context) -> Result<Response> {
        let query = Fields::of_query(&request)?;
        let text = |name: &str| query.present(name);
        let org_id = text("org_id").ok_or(Error::MissingField("org_id"))?;
        // The store checks the ids, the range and the cursor.
        let limit = match text("limit") {
            None => DEFAULT_LIMIT,
            Some(limit) => limit.parse().map_err(|_| ConnectionStoreError::InvalidLimit)?,
        };
        let (page, next) = self
            .keeper
            .connections()
            .list(
                &org_id,
                text("user_id").as_deref(),
                text("provider").as_deref(),
                limit,
                text("cursor").as_deref(),
            )
            .await?;
        Ok(json_response(
            StatusCode::OK,
            &ConnectionsPage {
                connections: page.iter().map(Metadata::from).collect(),
                next_cursor: next,
            },
        ))
    }
}
