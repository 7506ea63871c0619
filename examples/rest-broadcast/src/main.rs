//! The guide's "broadcast from REST" section, served on `127.0.0.1:$PORT` (3000 by default).
//!
//! ```text
//! cargo run -p example-rest-broadcast
//! ```
//!
//! Connect with `io("http://127.0.0.1:3000/events", { auth: { userId: "alice" } })`, then:
//! `curl -X POST localhost:3000/notifications/send -H 'content-type: application/json'
//! -d '{"userId":"alice","message":"hi"}'`.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (_server, router) = example_rest_broadcast::app();
    example_support::serve("example-rest-broadcast", router).await
}
