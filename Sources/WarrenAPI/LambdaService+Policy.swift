import Foundation
import WarrenPolicy
import WarrenStore

/// AddPermission, GetPolicy, RemovePermission: a function's resource-based policy (or a version's
/// or an alias's), kept and reported as Lambda builds it, not enforced: Warren holds one account
/// and every access key of the server may call every operation, so no other principal exists to
/// grant anything to. Deployment tools manage these beside the function (Terraform's
/// `aws_lambda_permission`, SAM's event sources) and stop when they cannot.
extension LambdaService {
    /// Lambda's limit on a policy's JSON.
    static let policyLimit = 20_480

    func addPermission(_ name: String, qualifier: String?, _ request: AddPermissionRequest) async throws
        -> AddPermissionResponse {
        try request.validate()
        if qualifier == "$LATEST" {
            throw LambdaError.invalidParameter("We currently do not support adding policies for $LATEST.")
        }
        let statement = PolicyStatementShape(request, resource: arn.function(name, qualifier))
        let json = statement.json
        return try await mutations.serialized {
            // The final size is the policy's with this statement, as Lambda measures it.
            let current = try await store.policy(of: name, qualifier: qualifier)
            let size = Self.policyJSON((current?.statements ?? []).map(\.json) + [json]).utf8.count
            if size > Self.policyLimit {
                throw LambdaError(400, "PolicyLengthExceededException",
                                  "The final policy size (\(size)) is bigger than the limit (\(Self.policyLimit)).")
            }
            _ = try await store.addPolicyStatement(name, qualifier: qualifier,
                                                   PolicyStatement(sid: statement.sid, json: json),
                                                   expectedRevisionId: request.revisionId)
            return AddPermissionResponse(statement: json)
        }
    }

    func getPolicy(_ name: String, qualifier: String?) async throws -> GetPolicyResponse {
        guard let policy = try await store.policy(of: name, qualifier: qualifier) else {
            throw LambdaError.notFound("The resource you requested does not exist.")
        }
        return GetPolicyResponse(policy: Self.policyJSON(policy.statements.map(\.json)), revisionId: policy.revisionId)
    }

    func removePermission(_ name: String, qualifier: String?, sid: String, revisionId: String?) async throws {
        var violations = Violations()
        violations.length(sid, at: "statementId", max: 100)
        violations.pattern(sid, at: "statementId", "([a-zA-Z0-9-_.]+)") {
            !$0.isEmpty && $0.allSatisfy { LambdaPattern.isNameCharacter($0) || $0 == "." }
        }
        try violations.check()
        try await mutations.serialized {
            try await store.removePolicyStatement(name, qualifier: qualifier, sid: sid, expectedRevisionId: revisionId)
        }
    }

    /// `{"Version":"2012-10-17","Id":"default","Statement":[…]}`, the statements as kept.
    static func policyJSON(_ statements: [String]) -> String {
        #"{"Version":"2012-10-17","Id":"default","Statement":["# + statements.joined(separator: ",") + "]}"
    }
}

/// AddPermission's body.
struct AddPermissionRequest: Decodable, Sendable {
    var statementId: String?
    var action: String?
    var principal: String?
    var sourceArn: String?
    var sourceAccount: String?
    var eventSourceToken: String?
    var revisionId: String?
    var principalOrgID: String?
    var functionUrlAuthType: String?
    var invokedViaFunctionUrl: Bool?
    enum CodingKeys: String, CodingKey {
        case statementId = "StatementId", action = "Action", principal = "Principal", sourceArn = "SourceArn"
        case sourceAccount = "SourceAccount", eventSourceToken = "EventSourceToken", revisionId = "RevisionId"
        case principalOrgID = "PrincipalOrgID", functionUrlAuthType = "FunctionUrlAuthType"
        case invokedViaFunctionUrl = "InvokedViaFunctionUrl"
    }

    /// The model's constraints, as one `ValidationException`.
    func validate() throws(LambdaError) {
        var violations = Violations()
        violations.required(statementId != nil, at: "statementId")
        violations.required(action != nil, at: "action")
        violations.required(principal != nil, at: "principal")
        violations.length(statementId, at: "statementId", max: 100)
        violations.pattern(statementId, at: "statementId", "([a-zA-Z0-9-_]+)", LambdaPattern.isName)
        violations.pattern(action, at: "action", "(lambda:[*]|lambda:[a-zA-Z]+|[*])") {
            $0 == "*" || $0 == "lambda:*"
                || ($0.hasPrefix("lambda:") && $0.count > 7 && $0.dropFirst(7).allSatisfy { $0.isASCII && $0.isLetter })
        }
        violations.pattern(principal, at: "principal", #"[^\s]+"#) {
            !$0.isEmpty && !$0.contains(where: \.isWhitespace)
        }
        violations.pattern(sourceArn, at: "sourceArn", Self.sourceArnPattern) {
            (try? Regex(Self.sourceArnPattern).wholeMatch(in: $0)) != nil
        }
        violations.length(sourceAccount, at: "sourceAccount", max: 12)
        violations.pattern(sourceAccount, at: "sourceAccount", #"\d{12}"#) {
            $0.count == 12 && $0.allSatisfy { $0.isASCII && $0.isNumber }
        }
        violations.length(eventSourceToken, at: "eventSourceToken", max: 256)
        violations.pattern(eventSourceToken, at: "eventSourceToken", #"[a-zA-Z0-9._\-]+"#) {
            !$0.isEmpty && $0.allSatisfy { LambdaPattern.isNameCharacter($0) || $0 == "." }
        }
        violations.pattern(principalOrgID, at: "principalOrgID", "o-[a-z0-9]{10,32}") {
            $0.hasPrefix("o-") && (10...32).contains($0.count - 2)
                && $0.dropFirst(2).allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
        }
        violations.oneOf(functionUrlAuthType, at: "functionUrlAuthType", ["NONE", "AWS_IAM"])
        try violations.check()
    }

    static let sourceArnPattern =
        #"arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\-])+:([a-z]{2}(-gov)?-[a-z]+-\d{1})?:(\d{12})?:(.*)"#
}

/// One statement as Lambda writes it, in its order: `Sid`, `Effect`, `Principal`, `Action`,
/// `Resource`, then `Condition` when the request narrowed it (written by hand: JSONEncoder keeps
/// no key order).
struct PolicyStatementShape {
    var sid: String
    var json: String

    init(_ request: AddPermissionRequest, resource: String) {
        sid = request.statementId ?? ""
        var conditions: [(String, [(String, String)])] = []
        if let arn = request.sourceArn { conditions.append(("ArnLike", [("AWS:SourceArn", arn)])) }
        let equals = [("AWS:SourceAccount", request.sourceAccount),
                      ("lambda:EventSourceToken", request.eventSourceToken),
                      ("aws:PrincipalOrgID", request.principalOrgID),
                      ("lambda:FunctionUrlAuthType", request.functionUrlAuthType)]
            .compactMap { key, value in value.map { (key, $0) } }
        if !equals.isEmpty { conditions.append(("StringEquals", equals)) }
        if request.invokedViaFunctionUrl == true {
            conditions.append(("Bool", [("lambda:InvokedViaFunctionUrl", "true")]))
        }
        let q = jsonQuoted
        var json = "{\"Sid\":\(q(sid)),\"Effect\":\"Allow\",\"Principal\":\(Self.principal(request.principal ?? "*")),"
            + "\"Action\":\(q(request.action ?? "")),\"Resource\":\(q(resource))"
        if !conditions.isEmpty {
            let members = conditions.map { op, pairs in
                q(op) + ":{" + pairs.map { q($0.0) + ":" + q($0.1) }.joined(separator: ",") + "}"
            }
            json += ",\"Condition\":{" + members.joined(separator: ",") + "}"
        }
        self.json = json + "}"
    }

    /// `"*"`; an account id as its root ARN; an ARN as an AWS principal; anything else (a
    /// service's domain) as a service.
    static func principal(_ text: String) -> String {
        if text == "*" { return jsonQuoted("*") }
        if text.count == 12, text.allSatisfy({ $0.isASCII && $0.isNumber }) {
            return "{\"AWS\":\(jsonQuoted("arn:aws:iam::\(text):root"))}"
        }
        return text.hasPrefix("arn:") ? "{\"AWS\":\(jsonQuoted(text))}" : "{\"Service\":\(jsonQuoted(text))}"
    }
}

struct AddPermissionResponse: Codable, Sendable {
    var statement: String
    enum CodingKeys: String, CodingKey { case statement = "Statement" }
}

struct GetPolicyResponse: Codable, Sendable {
    var policy: String
    var revisionId: String
    enum CodingKeys: String, CodingKey { case policy = "Policy", revisionId = "RevisionId" }
}
