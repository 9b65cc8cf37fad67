import CSeccomp
import CWarrenSandbox
import Glibc
import WarrenPolicy

// Host facts the compiler needs (kernel version, native architecture) and the
// memfd that carries a program into the sandbox.

extension CompiledFilter {
    /// Writes the program into a new sealed, close-on-exec memfd.
    ///
    /// The spawning child passes it to warren-init, which preads it from offset 0
    /// before it loads the filter. Seals (write, grow, shrink, seal) keep anyone who gets
    /// the fd from changing the program in between. The caller owns and closes the fd.
    /// - Throws: `SeccompError.system` naming the failing call.
    package func makeMemfd() throws -> Int32 {
        let fd = try Memfd.create(name: "warren-seccomp")
        do {
            try Memfd.writeAll(fd, bpf)
            let seals: Int32 = 0x1 | 0x2 | 0x4 | 0x8  // F_SEAL_SEAL | SHRINK | GROW | WRITE
            try Memfd.check(fcntl(fd, 1024 + 9, seals), "fcntl(F_ADD_SEALS)")  // F_ADD_SEALS
            try Memfd.check(Int(lseek(fd, 0, SEEK_SET)), "lseek")
            return fd
        } catch {
            close(fd)
            throw error
        }
    }
}

/// memfd_create(2) and whole-file I/O on it.
enum Memfd {
    /// A new close-on-exec memfd that allows sealing (the spawning child
    /// clears close-on-exec on the one copy it passes to warren-init).
    /// - Throws: `SeccompError.system` when the call fails.
    static func create(name: String) throws -> Int32 {
        while true {
            let fd = wrn_memfd(name)
            if fd >= 0 { return fd }
            if errno != EINTR { throw SeccompError.system(call: "memfd_create(\(name))", errno: errno) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            try check(n, "write(memfd)")
            done += n
        }
    }

    static func readAll(_ fd: Int32) throws -> [UInt8] {
        let size = lseek(fd, 0, SEEK_END)
        try check(Int(size), "lseek(memfd)")
        var bytes = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            try check(n, "pread(memfd)")
            if n == 0 { break }
            done += n
        }
        return Array(bytes[..<done])
    }

    static func check(_ result: some BinaryInteger, _ call: String) throws {
        if result < 0 { throw SeccompError.system(call: call, errno: errno) }
    }
}

extension KernelVersion {
    /// The running kernel, from uname(2); 0.1 if its release cannot be read.
    ///
    /// The fallback only matters for `minKernel`: too old a kernel drops `includes.minKernel`
    /// rules, which in allow-lists such as Docker's denies more, never less.
    package static let current: KernelVersion = {
        var names = utsname()
        guard uname(&names) == 0 else { return KernelVersion(0, 1) }
        let release = withUnsafeBytes(of: names.release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return KernelVersion(release: release) ?? KernelVersion(0, 1)
    }()
}

extension Architecture {
    /// The architecture this process runs as, per libseccomp (x86_64 here).
    package static let native: Architecture = {
        let token = seccomp_arch_native()
        if let arch = allCases.first(where: { SeccompCompiler.token($0) == token }) { return arch }
        // Unreachable: every architecture libseccomp 2.5 runs on is a case of `Architecture`.
        #if arch(arm64)
        return .aarch64
        #else
        return .x86_64
        #endif
    }()
}
