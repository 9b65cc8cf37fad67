/// Warren's supervisor: functions, instances, admission control.
public enum WarrenSupervisorModule {}
