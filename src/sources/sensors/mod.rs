//! Device metrics: sensors attached to the gateway (issue 18, in progress on this branch).
//! `drivers/` holds the datasheet drivers on the embedded-hal 1.0 traits; the sampler that
//! runs them on their buses, the board profiles' sensors and `outpost sensors probe` follow.

pub mod drivers;
