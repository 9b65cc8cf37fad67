/// The Lambda Runtime API: `/2018-06-01/runtime/...` served to one instance.
public enum RuntimeAPI {
    /// The path prefix every Runtime API request starts with.
    public static let prefix = "/2018-06-01"
}
