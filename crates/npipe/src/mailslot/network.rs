//! Where mailslot datagrams go on the network: port, domain, this host's
//! name, multicast groups, interface and hop limit.

use std::net::Ipv4Addr;

use crate::proto::datagram::{fold, group_for, MAX_TARGET_BYTES};
use crate::{Error, Result};

/// The UDP port mailslot datagrams use unless told otherwise
/// (`NPIPE_MAILSLOT_PORT`). Windows uses the NetBIOS datagram port 138,
/// which needs root on Linux and belongs to Samba's `nmbd`.
pub const DEFAULT_PORT: u16 = 41380;

/// The domain a computer belongs to unless told otherwise
/// (`NPIPE_MAILSLOT_DOMAIN`): Windows' default workgroup.
pub const DEFAULT_DOMAIN: &str = "WORKGROUP";

/// The first two octets of every mailslot multicast group unless told
/// otherwise (`NPIPE_MAILSLOT_GROUP_BASE`): `239.255.0.0/16`, the
/// organization-local scope of RFC 2365.
pub const DEFAULT_GROUP_BASE: Ipv4Addr = Ipv4Addr::new(239, 255, 0, 0);

/// How mailslots reach each other across the network.
///
/// Every computer has a name (its host name by default) and belongs to one
/// domain. A datagram for `\\NAME\mailslot\x` goes to the multicast group
/// of `NAME`, and one for `\\*\mailslot\x` to the group of this computer's
/// domain; a receiving mailslot joins the groups of its own computer name
/// and domain, and keeps only datagrams addressed to them and to its own
/// mailslot name. `\\10.1.2.3\mailslot\x` (an IPv4 address) is sent to that
/// address alone. See `docs/MAILSLOTS.md` for the whole design.
///
/// [`NetworkOptions::new`] gives the built-in defaults;
/// [`NetworkOptions::from_env`] starts from the environment, and is what
/// mailslots and writers use when given no options:
///
/// | Variable | Setting | Default |
/// |---|---|---|
/// | `NPIPE_MAILSLOT_PORT` | [`port`](Self::port) | [`DEFAULT_PORT`] (41380) |
/// | `NPIPE_MAILSLOT_DOMAIN` | [`domain`](Self::domain) | [`DEFAULT_DOMAIN`] (`WORKGROUP`) |
/// | `NPIPE_MAILSLOT_HOST` | [`host_name`](Self::host_name) | the system's host name |
/// | `NPIPE_MAILSLOT_GROUP_BASE` | [`group_base`](Self::group_base) | [`DEFAULT_GROUP_BASE`] |
/// | `NPIPE_MAILSLOT_INTERFACE` | [`interface`](Self::interface) | `0.0.0.0` (the route decides) |
/// | `NPIPE_MAILSLOT_TTL` | [`ttl`](Self::ttl) | 1 (this network segment) |
///
/// ```
/// use npipe::mailslot::NetworkOptions;
///
/// let mut net = NetworkOptions::new();
/// net.port(50138).domain("research").host_name("lab-7").ttl(2);
/// assert_eq!(net.port_number(), 50138);
/// assert_eq!(net.domain_name(), "RESEARCH");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkOptions {
    pub(crate) port: u16,
    pub(crate) domain: String,
    pub(crate) host: String,
    pub(crate) group_base: Ipv4Addr,
    pub(crate) interface: Ipv4Addr,
    pub(crate) ttl: u32,
}

impl Default for NetworkOptions {
    fn default() -> Self {
        NetworkOptions::new()
    }
}

impl NetworkOptions {
    /// The built-in defaults (see the table above), ignoring the
    /// environment.
    pub fn new() -> NetworkOptions {
        NetworkOptions {
            port: DEFAULT_PORT,
            domain: fold(DEFAULT_DOMAIN),
            host: fold(&crate::sys::udp::host_name()),
            group_base: DEFAULT_GROUP_BASE,
            interface: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
        }
    }

    /// The defaults, overridden by the `NPIPE_MAILSLOT_*` variables that
    /// are set and not empty.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the variable whose value does not
    /// parse or is out of range.
    pub fn from_env() -> Result<NetworkOptions> {
        let mut net = NetworkOptions::new();
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        if let Some(v) = var("NPIPE_MAILSLOT_PORT") {
            net.port(parse(&v, "NPIPE_MAILSLOT_PORT")?);
        }
        if let Some(v) = var("NPIPE_MAILSLOT_DOMAIN") {
            net.domain(&v);
        }
        if let Some(v) = var("NPIPE_MAILSLOT_HOST") {
            net.host_name(&v);
        }
        if let Some(v) = var("NPIPE_MAILSLOT_GROUP_BASE") {
            net.group_base(parse(&v, "NPIPE_MAILSLOT_GROUP_BASE")?);
        }
        if let Some(v) = var("NPIPE_MAILSLOT_INTERFACE") {
            net.interface(parse(&v, "NPIPE_MAILSLOT_INTERFACE")?);
        }
        if let Some(v) = var("NPIPE_MAILSLOT_TTL") {
            net.ttl(parse(&v, "NPIPE_MAILSLOT_TTL")?);
        }
        net.check()?;
        Ok(net)
    }

    /// The UDP port every mailslot of the network listens on and every
    /// writer sends to. Default: [`DEFAULT_PORT`].
    pub fn port(&mut self, port: u16) -> &mut Self {
        self.port = port;
        self
    }

    /// This computer's domain: `\\*\mailslot\x` reaches the mailslots of
    /// this domain, and a receiving mailslot accepts `\\DOMAIN\mailslot\x`.
    /// Compared without regard to case. Default: [`DEFAULT_DOMAIN`].
    pub fn domain(&mut self, domain: &str) -> &mut Self {
        self.domain = fold(domain);
        self
    }

    /// This computer's name as other computers write it in
    /// `\\NAME\mailslot\x`. Default: the system's host name.
    pub fn host_name(&mut self, name: &str) -> &mut Self {
        self.host = fold(name);
        self
    }

    /// The multicast range: its first two octets, with two octets derived
    /// from each host or domain name. Must be a multicast address
    /// (224.0.0.0/4). Default: [`DEFAULT_GROUP_BASE`].
    pub fn group_base(&mut self, base: Ipv4Addr) -> &mut Self {
        self.group_base = base;
        self
    }

    /// The local IPv4 address of the interface to join groups on and send
    /// multicast from. Default: `0.0.0.0`, letting the routing table pick
    /// (which needs a route for 224.0.0.0/4 or a default route).
    pub fn interface(&mut self, address: Ipv4Addr) -> &mut Self {
        self.interface = address;
        self
    }

    /// How many routers a multicast datagram may cross: 1 keeps it on this
    /// network segment (Windows' broadcasts do not cross routers either).
    /// Default: 1.
    pub fn ttl(&mut self, hops: u32) -> &mut Self {
        self.ttl = hops;
        self
    }

    /// The port in use.
    pub fn port_number(&self) -> u16 {
        self.port
    }

    /// The domain in use, case-folded.
    pub fn domain_name(&self) -> &str {
        &self.domain
    }

    /// This computer's name in use, case-folded.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The multicast group a datagram for the host or domain `name` is
    /// sent to.
    ///
    /// ```
    /// let net = npipe::mailslot::NetworkOptions::new();
    /// assert!(net.group_of("WORKGROUP").is_multicast());
    /// assert_eq!(net.group_of("workgroup"), net.group_of("WORKGROUP"));
    /// ```
    pub fn group_of(&self, name: &str) -> Ipv4Addr {
        group_for(&fold(name), self.group_base)
    }

    /// Checks the settings: called by `create` and `open`.
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(Error::InvalidParameter { reason });
        if !self.group_base.is_multicast() {
            return bad(format!(
                "the mailslot group base {} is not a multicast address",
                self.group_base
            ));
        }
        for (what, name) in [("domain", &self.domain), ("host name", &self.host)] {
            if name.is_empty() || name.len() > MAX_TARGET_BYTES {
                return bad(format!(
                    "the mailslot {what} must be 1 to {MAX_TARGET_BYTES} bytes long"
                ));
            }
        }
        if self.ttl > 255 {
            return bad(format!("a multicast ttl of {} is above 255", self.ttl));
        }
        Ok(())
    }
}

fn parse<T: std::str::FromStr>(value: &str, var: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::InvalidParameter {
        reason: format!("{var}={value:?} does not parse"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked() {
        let mut net = NetworkOptions::new();
        assert!(net.check().is_ok());
        net.group_base(Ipv4Addr::new(10, 0, 0, 0));
        assert!(net.check().is_err());
        let mut net = NetworkOptions::new();
        net.domain("");
        assert!(net.check().is_err());
        let mut net = NetworkOptions::new();
        net.ttl(256);
        assert!(net.check().is_err());
    }
}
