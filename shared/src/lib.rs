//! OAuth2 connections and item listings for Notion, HubSpot and Airtable.
//!
//! Each endpoint is a [`handlers::Handler`] that builds only what it needs; a Lambda function
//! runs one ([`lambda::run`]), `local-api` and the tests run them all ([`App`]) by the route
//! table ([`routes`]).

pub mod access;
pub mod app;
pub mod batch;
pub mod clock;
pub mod config;
pub mod connections;
pub mod crypto;
pub mod error;
pub mod handlers;
pub mod ids;
pub mod item;
pub mod keeper;
pub mod lambda;
pub mod logging;
pub mod oauth;
pub mod providers;
pub mod refresher;
pub mod request;
pub mod resources;
pub mod response;
pub mod routes;
pub mod sessions;
pub mod single_use;
pub mod sync;
pub mod tokens;
pub mod upstream;
pub mod webhooks;

pub use app::App;
pub use config::Config;
pub use error::Error;
pub use item::Item;
pub use routes::Function;
