/// Finance: campaign statistics, reconciliation, exports (issue 4).
public enum Finance {}
