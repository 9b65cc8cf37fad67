import CSeccomp
import Glibc
import WarrenPolicy

// libseccomp's per-architecture tables, for `warren policy check`/`diff`
// (which calls exist where) and for the audit supervisor (number → name).
// Calls newer than libseccomp 2.5.4 have the unified number on every
// architecture Warren runs on, so they are added from WarrenPolicy's table.

/// Which system calls exist on which architecture, per libseccomp plus the unified numbers.
package struct LibseccompCatalog: SyscallCatalog {
    /// Creates the catalog; lookups are cheap, nothing is cached.
    package init() {}

    package func exists(_ name: String, on arch: Architecture) -> Bool {
        number(name, on: arch) != nil
    }

    package func names(on arch: Architecture) -> Set<String> {
        Set(LinuxSyscalls.names.filter { exists($0, on: arch) })
    }

    /// The number of `name` on `arch`, nil when the architecture has no such call.
    package func number(_ name: String, on arch: Architecture) -> Int32? {
        guard let token = SeccompCompiler.token(arch) else { return nil }
        let number = seccomp_syscall_resolve_name_arch(token, name)
        if number >= 0 { return number }
        // A negative pseudo number: the call exists on other architectures only.
        guard number == __NR_SCMP_ERROR, let unified = LinuxSyscalls.unifiedNumbers[name] else { return nil }
        switch arch {
        case .mips, .mipsel: return unified + 4000
        case .mips64, .mipsel64: return unified + 5000
        case .mips64n32, .mipsel64n32: return unified + 6000
        default: return unified
        }
    }

    /// Number → name for the native architecture, for naming what the kernel reports.
    package static let nativeNames: [Int32: String] = {
        let catalog = LibseccompCatalog()
        var table: [Int32: String] = [:]
        for name in LinuxSyscalls.names {
            if let n = catalog.number(name, on: .native), table[n] == nil || name < table[n]! { table[n] = name }
        }
        return table
    }()

    /// The name of native system call `number`, or `syscall_N` when no table knows it.
    package static func nativeName(_ number: Int32) -> String {
        nativeNames[number] ?? "syscall_\(number)"
    }
}
