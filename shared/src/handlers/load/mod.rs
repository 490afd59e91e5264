//! `POST /integrations/{provider}/load`: the items a token can see, in the common item shape;
//! every one at once, or with `limit` and/or `cursor` a page at a time.

mod cursor;

use std::sync::Arc;

use http::StatusCode;
use lambda_http::Request;
use serde::Serialize;

use super::{Context, Handler, Serve};
use crate::crypto::{hashed_key_part, Sealer};
use crate::error::{Error, Result};
use crate::item::Item;
use crate::keeper::{self, Keeper};
use crate::providers::listing::{self, Budget, Position, Walk};
use crate::providers::{Needs, Provider, Providers};
use crate::request::{bounded, Fields};
use crate::resources::{Resources, StartupError};
use crate::response::{json_response, Response};
use crate::routes::Function;
use cursor::Cursor;

/// The items an unpaged load answers at most: a Lambda response holds 6 MB, headers included.
pub const MAX_LOAD_BYTES: usize = 5_000_000;
/// The largest `limit` of a paged load, and the one without a `limit`.
pub const MAX_LOAD_LIMIT: usize = 1000;
pub const DEFAULT_LOAD_LIMIT: usize = 100;
/// Objects asked of the provider per page, at most: the largest page every provider serves.
const PROVIDER_PAGE: usize = 100;
/// Steps (provider pages, or batches of children) one paged load makes at most.
const MAX_STEPS: usize = 20;

/// A page of a paged load; `next_cursor` is `null` on the last one.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoadPage {
    pub items: Vec<Item>,
    pub next_cursor: Option<String>,
}

/// A load by `credentials` needs only the providers' API settings and an HTTP client; a load by
/// `user_id` and `org_id` also needs the connections store; a paged one, the key its cursors are
/// sealed with.
pub struct Load {
    providers: Providers,
    http: reqwest::Client,
    keeper: Option<Arc<Keeper>>,
    sealer: Option<Sealer>,
}

impl Handler for Load {
    const FUNCTION: Function = Function::Load;

    async fn build(resources: &Resources) -> Result<Self, StartupError> {
        Ok(Load {
            providers: resources.config.providers.clone(),
            http: resources.http()?,
            keeper: resources.keeper().await?,
            sealer: resources.sealer().ok(),
        })
    }
}

/// What a paged load asked for.
struct Paging {
    limit: usize,
    cursor: Option<String>,
}

impl Paging {
    /// `None` for an unpaged load: neither `limit` nor `cursor` sent.
    fn of(fields: &Fields) -> Result<Option<Paging>> {
        let cursor = fields.present("cursor");
        let limit = bounded(
            "limit",
            fields.present("limit").as_deref(),
            "a number",
            MAX_LOAD_LIMIT as u64,
        )?;
        let limit = match limit {
            None if cursor.is_none() => return Ok(None),
            None => DEFAULT_LOAD_LIMIT,
            Some(limit) => limit as usize,
        };
        Ok(Some(Paging { limit, cursor }))
    }
}

impl Serve for Load {
    async fn serve(&self, request: Request, context: &Context) -> Result<Response> {
        let fields = Fields::from_request(&request).await?;
        let paging = Paging::of(&fields)?;
        if fields.has("credentials") {
            let provider = self.providers.get(&context.provider, Needs::API)?;
            let token = fields.access_token()?;
            let walked = hashed_key_part(&token);
            return self
                .answer(provider, &token, paging.as_ref(), &walked, context)
                .await;
        }
        if !fields.has("user_id") && !fields.has("org_id") {
            return Err(Error::MissingField(
                "credentials (or user_id and org_id of a kept connection)",
            ));
        }
        // By connection: the stored tokens, refreshed when due; refreshed once more (and the
        // listing retried once) when the provider refuses a token this call did not just get.
        let provider = self.providers.get(&context.provider, Needs::CLIENT)?;
        let identity = fields.identity()?;
        let keeper = self.keeper.as_ref().ok_or(Error::NotConfigured {
            hint: "Loading by user_id and org_id needs the connections store: set CONNECTIONS_TABLE, \
                   or send the credentials",
        })?;
        let id = keeper::connection_id(provider, &identity.org_id, &identity.user_id)?;
        let walked = id.key();
        let mut fresh = keeper.tokens(provider, &id, false, context.deadline).await?;
        if !fresh.refreshed {
            let token = &fresh.tokens.access_token;
            match self
                .answer(provider, token, paging.as_ref(), &walked, context)
                .await
            {
                Err(Error::ProviderUnauthorized { .. }) => {
                    fresh = keeper.tokens(provider, &id, true, context.deadline).await?;
                }
                other => return other,
            }
        }
        // Tokens the provider has just issued: refused now, the grant itself is dead.
        let token = &fresh.tokens.access_token;
        match self
            .answer(provider, token, paging.as_ref(), &walked, context)
            .await
        {
            Err(Error::ProviderUnauthorized { reason, .. }) => Err(keeper
                .refused_fresh_tokens(provider, &id, fresh.version, &reason)
                .await),
            other => other,
        }
    }
}

impl Load {
    /// Every item, or the page `paging` asks for of what `walked` names (the connection, or the
    /// credentials' hash: a cursor resumes only the walk it came from).
    async fn answer(
        &self,
        provider: &Provider,
        token: &str,
        paging: Option<&Paging>,
        walked: &str,
        context: &Context,
    ) -> Result<Response> {
        let api = provider.api(&self.http, token);
        let Some(paging) = paging else {
            let budget = Budget {
                max_bytes: MAX_LOAD_BYTES,
                deadline: context.deadline,
            };
            let items = listing::all(&api, provider, &budget).await?;
            return Ok(json_response(StatusCode::OK, &items));
        };
        let sealer = self.sealer.as_ref().ok_or(Error::NotConfigured {
            hint: "A paged load seals its cursors with TOKEN_ENCRYPTION_KEY: set it",
        })?;
        let start = match &paging.cursor {
            Some(sealed) => Cursor::open(sealer, provider.name(), walked, sealed)?,
            None => Cursor::new(Position::default(), 0, paging.limit.min(PROVIDER_PAGE)),
        };
        let walk = Walk {
            limit: paging.limit,
            size: start.size,
            max_steps: MAX_STEPS,
            deadline: context.deadline,
        };
        let (items, next) = listing::page(&api, provider, start.at, start.skip, walk).await?;
        let next_cursor =
            next.map(|(at, skip)| Cursor::new(at, skip, walk.size).seal(sealer, provider.name(), walked));
        Ok(json_response(StatusCode::OK, &LoadPage { items, next_cursor }))
    }
}
