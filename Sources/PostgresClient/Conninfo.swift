/// libpq connection settings coupond's long-lived connections get unless the conninfo says
/// otherwise (later keywords win): a bounded connect, and TCP keepalives so a server that
/// vanished without closing the connection is noticed in seconds, not after the kernel's
/// retransmission timeout.
public enum Conninfo {
    public static func withTimeouts(_ conninfo: String) -> String {
        guard !conninfo.hasPrefix("postgres://"), !conninfo.hasPrefix("postgresql://") else { return conninfo }
        return "connect_timeout=5 keepalives=1 keepalives_idle=5 keepalives_interval=2 keepalives_count=3 " + conninfo
    }
}
