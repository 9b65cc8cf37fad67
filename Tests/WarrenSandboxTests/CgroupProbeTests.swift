import Glibc
import Testing

@testable import WarrenSandbox

/// Parsing of mountinfo and /proc/self/cgroup, and the backend choice, on sample texts.
@Suite("Cgroup probe")
struct CgroupProbeTests {
    /// This machine: v1 controllers, plus a cgroup2 mount that holds only hugetlb.
    static let hybridMountinfo = """
        23 1 0:22 / / rw,relatime - overlay overlay rw
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
        33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
        34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices
        37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
        38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio
        39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
        40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
        """
    static let hybridProcCgroup = """
        9:name=systemd:/
        8:pids:/
        7:blkio:/
        6:freezer:/
        5:devices:/
        4:memory:/process_api/f37ced53
        3:cpuset:/
        2:cpuacct:/
        1:cpu:/
        0::/
        """

    @Test("hybrid host (this machine's layout): cgroup2 has only hugetlb, so v1")
    func hybrid() throws {
        let layout = CgroupLayout(mountinfo: Self.hybridMountinfo, procSelfCgroup: Self.hybridProcCgroup)
        #expect(layout.v1OwnDirs["memory"] == "/sys/fs/cgroup/memory/process_api/f37ced53")
        #expect(layout.v1OwnDirs["pids"] == "/sys/fs/cgroup/pids")
        #expect(layout.v1OwnDirs["name=systemd"] == "/sys/fs/cgroup/systemd")
        #expect(layout.v2Mount == "/sys/fs/cgroup/unified")
        #expect(layout.v2OwnDir == "/sys/fs/cgroup/unified")
        var asked: [String] = []
        let choice = try CgroupProbe.choose(layout: layout, subtree: "warren") { dir in
            asked.append(dir)
            return "hugetlb\n"
        }
        #expect(asked == ["/sys/fs/cgroup/unified"])
        #expect(choice == .v1(hierarchies: [
            "memory": "/sys/fs/cgroup/memory/process_api/f37ced53/warren",
            "pids": "/sys/fs/cgroup/pids/warren",
            "cpu": "/sys/fs/cgroup/cpu/warren",
            "freezer": "/sys/fs/cgroup/freezer/warren",
        ]))
    }

    @Test("pure v2 host with memory and pids delegated: v2 under the own cgroup")
    func pureV2() throws {
        let mountinfo = """
            24 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw
            30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
            """
        let layout = CgroupLayout(mountinfo: mountinfo, procSelfCgroup: "0::/system.slice/warren.service\n")
        #expect(layout.v1OwnDirs.isEmpty)
        let choice = try CgroupProbe.choose(layout: layout, subtree: "warren") { dir in
            dir == "/sys/fs/cgroup/system.slice/warren.service" ? "cpuset cpu io memory hugetlb pids rdma misc\n" : nil
        }
        #expect(choice == .v2(ownDir: "/sys/fs/cgroup/system.slice/warren.service"))
    }

    @Test("v1-only host with co-mounted cpu,cpuacct and a container's mount root")
    func v1Only() throws {
        let mountinfo = """
            100 90 0:40 /docker/abc /sys/fs/cgroup/cpu,cpuacct ro,nosuid - cgroup cgroup rw,cpu,cpuacct
            101 90 0:41 /docker/abc /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
            102 90 0:42 /docker/abc /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
            103 90 0:43 /docker/abc /sys/fs/cgroup/freezer rw,nosuid - cgroup cgroup rw,freezer
            104 90 0:44 /docker/abc /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio
            """
        let procCgroup = """
            5:net_cls,net_prio:/docker/abc
            4:freezer:/docker/abc/sub
            3:pids:/docker/abc
            2:memory:/docker/abc
            1:cpu,cpuacct:/docker/abc
            """
        let layout = CgroupLayout(mountinfo: mountinfo, procSelfCgroup: procCgroup)
        #expect(layout.v2Mount == nil)
        #expect(layout.v1OwnDirs["cpuacct"] == "/sys/fs/cgroup/cpu,cpuacct")
        #expect(layout.v1OwnDirs["freezer"] == "/sys/fs/cgroup/freezer/sub")
        let choice = try CgroupProbe.choose(layout: layout, subtree: "w") { _ in
            Issue.record("no cgroup2 mount, so nothing to read")
            return nil
        }
        #expect(choice == .v1(hierarchies: [
            "memory": "/sys/fs/cgroup/memory/w", "pids": "/sys/fs/cgroup/pids/w",
            "cpu": "/sys/fs/cgroup/cpu,cpuacct/w", "freezer": "/sys/fs/cgroup/freezer/sub/w",
        ]))
        let backend = CgroupV1Backend(hierarchies: ["cpu": "/c", "cpuacct": "/c", "memory": "/m"])
        #expect(backend.parentDirs == ["/m", "/c"])
    }

    @Test("no usable cgroups: the error says what was found and hints at the fix")
    func nothingUsable() throws {
        let mountinfo = """
            30 24 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
            31 24 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
            """
        let layout = CgroupLayout(mountinfo: mountinfo, procSelfCgroup: "1:memory:/\n0::/user.slice\n")
        let error = try #require(throws: CgroupError.self) {
            try CgroupProbe.choose(layout: layout, subtree: "warren") { _ in "cpu io\n" }
        }
        #expect(error.operation == "probe")
        #expect(error.description.contains("cgroup2 at /sys/fs/cgroup with controllers [cpu io]"))
        #expect(error.description.contains("v1 hierarchies [memory]"))
        #expect(error.hint?.contains("subtree_control") == true)
        #expect(throws: CgroupError.self) {
            try CgroupProbe.choose(layout: layout, subtree: "../x") { _ in nil }
        }
    }

    @Test("mountinfo octal escapes and optional fields; /proc/self/cgroup paths with ':'")
    func parsingDetails() {
        let line = "36 35 98:0 /mnt1 /mnt\\040two rw,noatime master:1 shared:2 - cgroup cg rw,freezer"
        #expect(MountinfoEntry.parse(line) == [
            MountinfoEntry(root: "/mnt1", mountPoint: "/mnt two", fsType: "cgroup", superOptions: ["rw", "freezer"]),
        ])
        #expect(MountinfoEntry.parse("garbage line\n").isEmpty)
        #expect(ProcCgroupEntry.parse("0::/a:b\n") == [ProcCgroupEntry(hierarchyID: 0, controllers: [], path: "/a:b")])
    }

    @Test("names are one safe path component")
    func names() throws {
        for bad in ["", "a/b", "..", "a..b", ".", "/", "cgroup.procs", "x\ny", String(repeating: "a", count: 256)] {
            #expect(throws: CgroupError.self, "\(bad.debugDescription) must be rejected") { try CgroupName.validate(bad) }
        }
        try CgroupName.validate("fn-123_abc.v2")
    }

    @Test("limits: validation and the v1/v2 conversions")
    func limits() throws {
        #expect(throws: CgroupError.self) { try CgroupLimits(memoryBytes: 0).validate(for: "x") }
        #expect(throws: CgroupError.self) { try CgroupLimits(pidsMax: -1).validate(for: "x") }
        #expect(throws: CgroupError.self) { try CgroupLimits(cpus: .nan).validate(for: "x") }
        #expect(throws: CgroupError.self) { try CgroupLimits(cpuWeight: 10_001).validate(for: "x") }
        try CgroupLimits(memoryBytes: 1, pidsMax: 1, cpus: 0.001, cpuWeight: 1).validate(for: "x")
        #expect(CgroupLimits(cpus: 1.5).cpuQuotaMicros == 150_000)
        #expect(CgroupLimits(cpus: 0.001).cpuQuotaMicros == 1_000)  // the kernel's minimum
        #expect(CgroupLimits().cpuQuotaMicros == nil)
    }

    @Test("detect() on this host")
    func detectHere() throws {
        let backend = try CgroupProbe.detect()
        print("cgroup probe: this host uses \(backend.version.rawValue), instances under \(backend.rootDescription)")
        let unified = "/sys/fs/cgroup/unified/cgroup.controllers"
        if CgroupFS.exists(unified), !(try CgroupFS.read(unified)).contains("memory") {
            // The documented build-machine layout: hybrid, memory only on v1.
            #expect(backend.version == .v1)
            let own = ProcCgroupEntry.parse(try CgroupFS.read("/proc/self/cgroup"))
                .first { $0.controllers == ["memory"] }?.path ?? "?"
            let ownPath = own == "/" ? "" : own
            #expect(backend.rootDescription == "/sys/fs/cgroup/memory\(ownPath)/warren")
        }
        #expect(CgroupFS.exists(unified), "this suite expects the documented hybrid layout")
    }
}
