//! The syncs of a kept connection: `POST …/sync` starts one (202, or the one running),
//! `GET …/sync` shows it, and `GET …/items` reads what the syncs kept, by page and by change.

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::connection::query_identity;
use super::{Context, Handler, Serve};
use crate::connections::ConnectionId;
use crate::error::{Error, Result};
use crate::keeper::{self, Keeper};
use crate::providers::{Needs, Providers};
use crate::request::{Fields, Identity};
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use crate::sync::{self, items_page, ItemsQuery, SharedItems, SyncView, Syncer};

/// `POST …/sync`'s answer.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncStarted {
    pub sync: SyncView,
}

const NO_SYNC: Error = Error::NotConfigured {
    hint: "Syncs need the items table and the sync queue: set ITEMS_TABLE and SYNC_QUEUE_URL",
};

/// Reads what syncs need: the connection (it must exist) and the items store.
struct Kept {
    providers: Providers,
    keeper: Arc<Keeper>,
    items: Option<SharedItems>,
}

impl Kept {
    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Kept {
            providers: resources.config.providers.clone(),
            keeper: resources.required_keeper().await?,
            items: resources.items().await?,
        })
    }

    /// The connection `identity` names, which must exist, and the items store.
    async fn connection(&self, provider: &str, identity: &Identity) -> Result<(ConnectionId, &SharedItems)> {
        let provider = self.providers.get(provider, Needs::NOTHING)?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let items = self.items.as_ref().ok_or(NO_SYNC)?;
        self.keeper.get(&id).await?;
        Ok((id, items))
    }
}

pub struct StartSync {
    providers: Providers,
    syncer: Option<Arc<Syncer>>,
}

impl Handler for StartSync {
    const FUNCTION: Function = Function::StartSync;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(StartSync {
            providers: resources.config.providers.clone(),
            syncer: resources.syncer().await?,
        })
    }
}

impl Serve for StartSync {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let provider = self.providers.get(&context.provider, Needs::NOTHING)?;
        let fields = Fields::from_request(&request).await?;
        let identity = fields.identity()?;
        let full = fields.flag("full")?;
        let syncer = self.syncer.as_ref().ok_or(NO_SYNC)?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let record = syncer.start(&id, full).await?;
        Ok(json_response(
            StatusCode::ACCEPTED,
            &SyncStarted {
                sync: SyncView::from(&record),
            },
        ))
    }
}

pub struct SyncStatus(Kept);

impl Handler for SyncStatus {
    const FUNCTION: Function = Function::SyncStatus;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Kept::build(resources).await.map(SyncStatus)
    }
}

impl Serve for SyncStatus {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let identity = query_identity(&request)?;
        let (id, items) = self.0.connection(&context.provider, &identity).await?;
        // Never synced yet: idle, nothing found.
        let view = sync::status(items, &id).await?.unwrap_or_default();
        Ok(json_response(StatusCode::OK, &view))
    }
}

pub struct Items(Kept);

impl Handler for Items {
    const FUNCTION: Function = Function::Items;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Kept::build(resources).await.map(Items)
    }
}

impl Serve for Items {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let fields = Fields::of_query(&request)?;
        let identity = fields.identity()?;
        let (id, items) = self.0.connection(&context.provider, &identity).await?;
        let query = ItemsQuery {
            modified_after: fields.present("modified_after"),
            limit: fields.present("limit"),
            cursor: fields.present("cursor"),
        };
        let page = items_page(items, &id, &query).await?;
        Ok(json_response(StatusCode::OK, &page))
    }
}
