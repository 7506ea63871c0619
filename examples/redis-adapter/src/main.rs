//! The guide's Redis adapter section: one node of a cluster, served on `127.0.0.1:$PORT`
//! (3000 by default), over the Redis at `REDIS_URL` (`redis://127.0.0.1:6379` by default).
//!
//! ```text
//! cargo run -p example-redis-adapter
//! ```
//!
//! Start a second node with `PORT=3001 cargo run -p example-redis-adapter`: a client of one
//! node hears what is sent to a room from the other, and
//! `curl -X POST localhost:3001/broadcast -H 'content-type: application/json'
//! -d '{"event":"news","data":"hi"}'` reaches the clients of both.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    example_support::logs();
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    println!("clustering over {redis_url}");
    let (_server, router) = example_redis_adapter::node(&redis_url, "iogate-example").await?;
    example_support::serve("example-redis-adapter", router).await
}
