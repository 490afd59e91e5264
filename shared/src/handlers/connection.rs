//! `GET` and `DELETE /integrations/{provider}/connection?org_id=…&user_id=…`: a connection's
//! metadata, and the disconnect (revoke where the provider documents how, then forget the
//! connection and any hand-off copy of its tokens still waiting in Redis).

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Context, Handler, Serve};
use crate::error::Result;
use crate::keeper::{self, Keeper, Metadata, Revocation};
use crate::providers::{Needs, Providers};
use crate::request::{Fields, Identity};
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::single_use::{credentials_key, SingleUse};

pub struct Connection {
    providers: Providers,
    keeper: Arc<Keeper>,
}

pub struct Disconnect {
    providers: Providers,
    keeper: Arc<Keeper>,
    single_use: Arc<SingleUse>,
    /// Locally, the synced items, forgotten with the connection. Deployed, the connections
    /// table's stream does it (the `sync` function), which keeps this binary small and forgets
    /// them even when the process dies right after the delete.
    #[cfg(feature = "embedded")]
    items: Option<crate::sync::SharedItems>,
}

/// The disconnect's answer; `revoked` is true only where the provider confirmed the revocation,
/// and `revocation` says why not otherwise.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Disconnected {
    pub deleted: bool,
    pub revoked: bool,
    pub revocation: Revocation,
}

/// `org_id` and `user_id` from the query string.
pub(super) fn query_identity(request: &Request) -> Result<Identity> {
    Fields::of_query(request)?.identity()
}

impl Handler for Connection {
    const FUNCTION: Function = Function::Connection;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Connection {
            providers: resources.config.providers.clone(),
            keeper: resources.required_keeper().await?,
        })
    }
}

impl Serve for Connection {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::NOTHING)?;
        let identity = query_identity(&request)?;
        let connection = self
            .keeper
            .get(&keeper::connection_id(
                provider,
                &identity.org_id,
                &identity.user_id,
            )?)
            .await?;
        Ok(json_response(StatusCode::OK, &Metadata::from(&connection)))
    }
}

impl Handler for Disconnect {
    const FUNCTION: Function = Function::Disconnect;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Disconnect {
            providers: resources.config.providers.clone(),
            keeper: resources.required_keeper().await?,
            single_use: resources.single_use().await?,
            #[cfg(feature = "embedded")]
            items: resources.items().await?,
        })
    }
}

impl Serve for Disconnect {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        // Revoking authenticates the client.
        let provider = self.providers.get(&context.provider, Needs::CLIENT)?;
        let identity = query_identity(&request)?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let revocation = self.keeper.disconnect(provider, &id, context.deadline).await?;
        // The copy waiting for a `/credentials` hand-off would outlive the disconnect otherwise.
        let key = credentials_key(provider.name(), &identity.org_id, &identity.user_id);
        self.single_use.discard(&key).await?;
        #[cfg(feature = "embedded")]
        if let Some(items) = &self.items {
            crate::sync::forget(items, &id.key(), None).await?;
        }
        Ok(json_response(
            StatusCode::OK,
            &Disconnected {
                deleted: true,
                revoked: revocation == Revocation::Revoked,
                revocation,
            },
        ))
    }
}
