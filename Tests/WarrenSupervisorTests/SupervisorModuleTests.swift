import Testing
@testable import WarrenSupervisor

@Test func theSupervisorModuleLinks() {
    #expect(String(describing: WarrenSupervisorModule.self) == "WarrenSupervisorModule")
}
