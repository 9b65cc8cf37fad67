import Foundation
import WarrenStore

/// Put/Get/DeleteFunctionCodeSigningConfig: the function's code signing configuration ARN, kept
/// and reported, not applied (Warren verifies no signatures and has no code signing
/// configurations of its own). Terraform reads it for every function it manages and stops with
/// an error when it cannot.
extension LambdaService {
    /// The reported setting that holds it (see ``FunctionRecord/reportedSettings``).
    static let codeSigningMember = "CodeSigningConfigArn"

    func getFunctionCodeSigningConfig(_ name: String) async throws -> FunctionCodeSigningShape {
        let record = try await store.getFunction(name)
        return FunctionCodeSigningShape(codeSigningConfigArn: Self.codeSigningArn(record) ?? "", functionName: name)
    }

    func putFunctionCodeSigningConfig(_ name: String, arn: String?) async throws -> FunctionCodeSigningShape {
        var violations = Violations()
        violations.required(arn != nil, at: "codeSigningConfigArn")
        violations.length(arn, at: "codeSigningConfigArn", max: 200)
        violations.pattern(arn, at: "codeSigningConfigArn", LambdaPattern.codeSigningConfig,
                           LambdaPattern.isCodeSigningConfig)
        try violations.check()
        let arn = arn ?? ""
        try await setCodeSigning(name, UnappliedSettings.json(arn))
        return FunctionCodeSigningShape(codeSigningConfigArn: arn, functionName: name)
    }

    func deleteFunctionCodeSigningConfig(_ name: String) async throws {
        try await setCodeSigning(name, nil)
    }

    private func setCodeSigning(_ name: String, _ json: String?) async throws {
        try await mutations.serialized {
            _ = try await store.updateFunctionConfiguration(
                name, FunctionConfigurationUpdate(reportedSettings: [Self.codeSigningMember: json]),
                expectedRevisionId: nil)
        }
    }

    static func codeSigningArn(_ record: FunctionRecord) -> String? {
        record.reportedSettings?[codeSigningMember].flatMap {
            try? JSONDecoder().decode(String.self, from: Data($0.utf8))
        }
    }
}

/// Get/PutFunctionCodeSigningConfig's answer.
struct FunctionCodeSigningShape: Codable, Sendable {
    var codeSigningConfigArn: String
    var functionName: String
    enum CodingKeys: String, CodingKey {
        case codeSigningConfigArn = "CodeSigningConfigArn", functionName = "FunctionName"
    }
}

/// PutFunctionCodeSigningConfig's body.
struct PutFunctionCodeSigningRequest: Decodable, Sendable {
    var codeSigningConfigArn: String?
    enum CodingKeys: String, CodingKey { case codeSigningConfigArn = "CodeSigningConfigArn" }
}
