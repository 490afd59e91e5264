//! OAuth2 connections and item listings for Notion, HubSpot and Airtable.
//!
//! The four endpoints of the integrations API live here as plain async functions
//! ([`handlers`]); the Lambda functions ([`lambda::run`]) and `local-api` ([`local`]) only
//! deliver requests to them.

pub mod access;
pub mod app;
pub mod config;
pub mod crypto;
pub mod error;
pub mod handlers;
pub mod http;
pub mod item;
pub mod lambda;
pub mod local;
pub mod logging;
pub mod oauth;
pub mod providers;
pub mod sandbox;
pub mod store;
pub mod upstream;

pub use app::App;
pub use config::Config;
pub use error::Error;
pub use handlers::Endpoint;
pub use item::Item;
