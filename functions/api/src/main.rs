//! The api Lambda: wiring only (see `api::function`). A setting that stops it is reported as
//! one line, `api: cannot start: …`, like the other functions.

use tickwatch::config::Env;
use tickwatch::startup::{Resources, or_exit};

const FUNCTION: &str = "api";

fn main() -> Result<(), lambda_http::Error> {
    let env = Env::process();
    api::function::runtime(&env)?.block_on(async {
        let resources = or_exit(FUNCTION, Resources::from_env(FUNCTION).await);
        let (state, settings) = or_exit(FUNCTION, api::function::wire(&resources, &env).await);
        api::function::run(state, settings, &env).await
    })
}
