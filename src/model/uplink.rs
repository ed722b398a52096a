//! The uplink's state and what arrives on it, shared by the MQTT sink (which produces them),
//! remote-config control and the runtime (which act on them).

use std::sync::Arc;

/// Incoming packets above this size end the connection (rumqttc's limit); a retained config
/// that large is refused without subscribing again (see the MQTT sink).
pub const MAX_INCOMING: usize = 1 << 20;

/// The uplink's state, for the runtime (remote config health) and the agent's metrics.
#[derive(Debug, Clone, Default)]
pub struct Link {
    pub connected: bool,
    /// Successful connections since the agent started (across sink instances).
    pub connections: u64,
    /// Why the last connection attempt or connection failed.
    pub last_error: Option<String>,
}

/// A message that arrived on the config topic.
#[derive(Debug, Clone)]
pub enum Incoming {
    Config(Arc<Vec<u8>>),
    /// The retained config exceeded the packet limit; its size when known.
    TooLarge(Option<usize>),
}
