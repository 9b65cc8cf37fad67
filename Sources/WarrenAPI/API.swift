/// The Lambda REST API.
public enum WarrenAPIModule {}
