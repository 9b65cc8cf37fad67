import Testing
@testable import WarrenSupervisor

/// The account limit as Lambda counts it (spec §5): a reserved function takes its whole
/// reservation from the account, a function without one takes its provisioned concurrency (from
/// the moment it is set, READY or not) and its busy on-demand invocations.
struct AdmissionTests {
    func throttled(_ admission: Admission, _ function: String) -> String? {
        do {
            _ = try admission.lease(function, version: "$LATEST", memoryMB: 128)
            return nil
        } catch let error as SupervisorError {
            return error.reason
        } catch {
            return "\(error)"
        }
    }

    @Test func canClaimMemoryAsksWithoutClaiming() {
        let budget = Admission(.init(memoryBudgetMB: 256))
        #expect(budget.canClaimMemory(256))
        #expect(budget.claimMemory(128))
        #expect(budget.canClaimMemory(128) && !budget.canClaimMemory(129))
        #expect(budget.memoryInUse == 128)
        #expect(Admission().canClaimMemory(1 << 30), "no budget: always room")
    }

    @Test func instanceSlotsBoundTheInstancesAsTheMemoryBudgetDoes() {
        let slots = Admission(.init(maxInstances: 2))
        #expect(slots.claimMemory(128) && slots.claimMemory(128))
        #expect(!slots.canClaimMemory(1) && !slots.claimMemory(1), "every slot taken")
        slots.returnMemory(128)
        #expect(slots.claimMemory(4096), "an instance that ended gave its slot back")
        #expect(slots.memoryInUse == 128 + 4096)
    }

    @Test func unreservedFunctionsShareWhatReservationsAndProvisionedInstancesLeave() throws {
        let admission = Admission(.init(accountLimit: 10, unreservedMinimum: 1))
        try admission.setReserved("r", 4)  // counts 4, busy or not
        // Counts 3 for p, which has no reservation, though none of its instances is READY yet
        // (before, only READY ones counted: invokes took the places of provisioned instances starting).
        admission.setRequestedProvisioned("p", ["1": 2, "2": 1])
        // 10 - 4 - 3 = 3 on-demand leases left for unreserved functions.
        var leases: [Admission.Lease] = []
        for name in ["a", "b", "a"] {
            leases.append(try admission.lease(name, version: "$LATEST", memoryMB: 128))
        }
        #expect(throttled(admission, "c") == "ConcurrentInvocationLimitExceeded")
        // The reserved function runs within its own 4 whatever the account's state.
        for _ in 0..<4 { leases.append(try admission.lease("r", version: "$LATEST", memoryMB: 128)) }
        #expect(throttled(admission, "r") == "ReservedFunctionConcurrentInvocationLimitExceeded")
        #expect(admission.concurrentExecutions == 7)
        // A released lease frees one place; a lowered provisioned count frees more.
        admission.release(leases.removeFirst())
        leases.append(try admission.lease("c", version: "$LATEST", memoryMB: 128))
        #expect(throttled(admission, "c") == "ConcurrentInvocationLimitExceeded")
        admission.setRequestedProvisioned("p", ["1": 2])
        leases.append(try admission.lease("c", version: "$LATEST", memoryMB: 128))
        #expect(throttled(admission, "d") == "ConcurrentInvocationLimitExceeded")
        for lease in leases { admission.release(lease) }
        #expect(admission.concurrentExecutions == 0)
    }
}
