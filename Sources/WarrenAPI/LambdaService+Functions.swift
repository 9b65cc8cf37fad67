import Foundation
import WarrenStore
import WarrenSupervisor

extension LambdaService {
    /// CreateFunction: stores the code, then the function, then mirrors it;
    /// with `Publish` also version 1 (answered with an unqualified ARN, as Lambda does).
    func createFunction(_ request: CreateFunctionRequest) async throws -> FunctionConfiguration {
        let name = try Self.validateCreate(request, catalog: catalog, home: arn)
        let zip = try FunctionSettings.zip(request.code?.zipFile, s3Bucket: request.code?.s3Bucket,
                                           s3Key: request.code?.s3Key, imageUri: request.code?.imageUri)
        let artifact = try await addCode(zip)
        let record = FunctionRecord(
            name: name, runtime: request.runtime ?? "", handler: request.handler ?? "", role: request.role ?? "",
            memorySize: request.memorySize ?? 128, timeout: Double(request.timeout ?? 3),
            ephemeralStorage: request.ephemeralStorage?.size ?? 512,
            environment: request.environment?.variables ?? [:], description: request.description ?? "",
            codeSha256: artifact.sha256, codeSize: artifact.size, reportedSettings: Self.kept(request))
        return try await mutations.serialized {
            let created = try await store.createFunction(record, tags: request.tags ?? [:])
            do {
                try await supervisor.createFunction(functionConfig(created))
            } catch {
                // The supervisor refused what the store took: undo, so the two agree.
                try? await store.deleteFunction(name, qualifier: nil)
                throw error
            }
            guard request.publish == true else {
                return shape(created, version: FunctionVersion.latest, arn: arn.function(name))
            }
            let version = try await publishMirrored(name, description: nil, codeSha256: nil, revisionId: nil)
            return shape(version.configuration, version: version.version, arn: arn.function(name),
                         description: version.description)
        }
    }

    /// The reported settings a new function keeps: those the request sets, and its code signing
    /// configuration (see ``getFunctionCodeSigningConfig(_:)``).
    private static func kept(_ request: CreateFunctionRequest) -> [String: String]? {
        var kept = request.unapplied.reported.compactMapValues { $0 }
        if let arn = request.codeSigningConfigArn, !arn.isEmpty {
            kept[codeSigningMember] = UnappliedSettings.json(arn)
        }
        return kept.isEmpty ? nil : kept
    }

    private static func validateCreate(_ request: CreateFunctionRequest, catalog: RuntimeCatalog, home: LambdaARN)
        throws(LambdaError) -> String {
        var violations = Violations()
        violations.required(request.functionName != nil, at: "functionName")
        violations.required(request.role != nil, at: "role")
        violations.required(request.code != nil, at: "code")
        violations.oneOf(request.packageType, at: "packageType", ["Zip", "Image"])
        violations.length(request.codeSigningConfigArn, at: "codeSigningConfigArn", max: 200)
        if request.codeSigningConfigArn?.isEmpty == false {
            violations.pattern(request.codeSigningConfigArn, at: "codeSigningConfigArn",
                               LambdaPattern.codeSigningConfig, LambdaPattern.isCodeSigningConfig)
        }
        try violations.check()
        let reference = try FunctionReference(text: request.functionName ?? "")
        try reference.checkReachable(from: home)
        let name = try reference.unqualified()
        violations.length(name, at: "functionName", max: 64)
        try violations.check()
        if request.packageType == "Image" {
            throw .invalidParameter("Warren runs Zip packages only; PackageType Image is not supported.")
        }
        guard request.runtime != nil, request.handler != nil else {
            throw .invalidParameter("Runtime and Handler are mandatory parameters for functions created with "
                + "deployment packages.")
        }
        try FunctionSettings(request).validate(catalog: catalog)
        if let logging = request.unapplied.logging { _ = try UnappliedSettings.Logging.merged(logging, over: nil) }
        try FunctionSettings.checkArchitectures(request.architectures)
        try TagRules.check(request.tags ?? [:])
        return name
    }

    /// UpdateFunctionCode. `DryRun` checks and stores the zip but changes nothing.
    func updateFunctionCode(_ name: String, _ request: UpdateFunctionCodeRequest) async throws
        -> FunctionConfiguration {
        try FunctionSettings.checkArchitectures(request.architectures)
        let zip = try FunctionSettings.zip(request.zipFile, s3Bucket: request.s3Bucket, s3Key: request.s3Key,
                                           imageUri: request.imageUri)
        _ = try await store.getFunction(name)
        let artifact = try await addCode(zip)
        if request.dryRun == true {
            var current = try await store.getFunction(name)
            current.codeSha256 = artifact.sha256
            current.codeSize = artifact.size
            return shape(current, version: FunctionVersion.latest, arn: arn.function(name))
        }
        return try await mutations.serialized {
            let updated = try await store.updateFunctionCode(name, codeSha256: artifact.sha256, codeSize: artifact.size,
                                                             expectedRevisionId: request.revisionId)
            try await supervisor.updateFunction(functionConfig(updated))
            guard request.publish == true else {
                return shape(updated, version: FunctionVersion.latest, arn: arn.function(name))
            }
            let version = try await publishMirrored(name, description: nil, codeSha256: nil, revisionId: nil)
            return shape(version.configuration, version: version.version, arn: arn.function(name),
                         description: version.description)
        }
    }

    /// UpdateFunctionConfiguration; `Environment` replaces the variables wholesale.
    func updateFunctionConfiguration(_ name: String, _ request: UpdateFunctionConfigurationRequest) async throws
        -> FunctionConfiguration {
        var settings = FunctionSettings(request)
        try settings.validate(catalog: catalog)
        return try await mutations.serialized {
            if let given = settings.unapplied.logging {
                // The members given replace the function's; the others stay, as Lambda merges them.
                let current = try await store.getFunction(name).reportedSettings?["LoggingConfig"].flatMap {
                    try? JSONDecoder().decode(UnappliedSettings.Logging.self, from: Data($0.utf8))
                }
                settings.unapplied.logging = try UnappliedSettings.Logging.merged(given, over: current)
            }
            let updated = try await store.updateFunctionConfiguration(name, settings.update,
                                                                      expectedRevisionId: request.revisionId)
            try await supervisor.updateFunction(functionConfig(updated))
            return shape(updated, version: FunctionVersion.latest, arn: arn.function(name))
        }
    }

    /// DeleteFunction: the whole function, or with a numeric qualifier one version.
    func deleteFunction(_ name: String, qualifier: String?) async throws {
        try await mutations.serialized {
            try await store.deleteFunction(name, qualifier: qualifier)
            if let qualifier {
                try await supervisor.deleteVersion(name, version: qualifier)
            } else {
                try await supervisor.deleteFunction(name)
                clearProvisionedFailures(name)
            }
        }
        capacityChanged()  // its reservation and provisioned concurrency are the account's again
    }

    /// PublishVersion: the next version, or the last one when nothing changed.
    func publishVersion(_ name: String, _ request: PublishVersionRequest) async throws -> FunctionConfiguration {
        var violations = Violations()
        violations.length(request.description, at: "description", max: 256)
        violations.noNUL(request.description, at: "description")
        try violations.check()
        let version = try await mutations.serialized {
            try await publishMirrored(name, description: request.description, codeSha256: request.codeSha256,
                                      revisionId: request.revisionId)
        }
        return shape(version.configuration, version: version.version,
                     arn: arn.function(name, version.version), description: version.description)
    }

    /// Publishes in the store, then installs the version in the supervisor.
    /// Call holding the mutation lock.
    private func publishMirrored(_ name: String, description: String?, codeSha256: String?, revisionId: String?)
        async throws -> VersionRecord {
        let version = try await store.publishVersion(name, description: description, expectedCodeSha256: codeSha256,
                                                     expectedRevisionId: revisionId)
        try await supervisor.putVersion(name, version: version.version, functionConfig(version.configuration))
        return version
    }

    /// Checks and extracts a zip off the cooperative pool: extraction is
    /// blocking disk work of up to 250 MB.
    private func addCode(_ zip: [UInt8]) async throws -> CodeArtifact {
        let code = code
        return try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try code.add(zip: zip) }) }
            thread.name = "warren-code-add"
            thread.start()
        }
    }
}
