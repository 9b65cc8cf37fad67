import GRDB

extension SQLiteStore {
    public func policy(of function: String, qualifier: String?) async throws -> PolicyRecord? {
        try await pool.read { db in
            let key = try self.policyKey(db, function, qualifier)
            return try PolicyRecord.fetchOne(db, key: key)
        }
    }

    public func addPolicyStatement(_ function: String, qualifier: String?, _ statement: PolicyStatement,
                                   expectedRevisionId: String?) async throws -> PolicyRecord {
        try await pool.write { db in
            let key = try self.policyKey(db, function, qualifier)
            var policy = try PolicyRecord.fetchOne(db, key: key)
                ?? PolicyRecord(function: function, qualifier: key["qualifier"] ?? "")
            try Self.check(expectedRevisionId, policy)
            if policy.statements.contains(where: { $0.sid == statement.sid }) {
                throw StoreError(.conflict, "The statement id (\(statement.sid)) provided already exists. Please "
                    + "provide a new statement id, or remove the existing statement.")
            }
            policy.statements.append(statement)
            policy.revisionId = newRevisionId()
            try policy.save(db)
            return policy
        }
    }

    public func removePolicyStatement(_ function: String, qualifier: String?, sid: String,
                                      expectedRevisionId: String?) async throws {
        try await pool.write { db in
            let key = try self.policyKey(db, function, qualifier)
            guard var policy = try PolicyRecord.fetchOne(db, key: key),
                  let index = policy.statements.firstIndex(where: { $0.sid == sid }) else {
                throw StoreError(.notFound, "Statement \(sid) is not found in resource policy.")
            }
            try Self.check(expectedRevisionId, policy)
            policy.statements.remove(at: index)
            if policy.statements.isEmpty {
                _ = try PolicyRecord.deleteOne(db, key: key)
            } else {
                policy.revisionId = newRevisionId()
                try policy.update(db)
            }
        }
    }

    /// The row key of a policy, once the function and the qualifier (a version or an alias) are
    /// known to exist.
    private func policyKey(_ db: Database, _ function: String, _ qualifier: String?) throws -> [String: String] {
        _ = try requireFunction(db, function)
        let qualifier = qualifier ?? ""
        if !qualifier.isEmpty, qualifier != "$LATEST" {
            let exists = if let number = Self.versionNumber(qualifier) {
                try VersionRow.exists(db, key: ["function": function, "number": number])
            } else {
                try AliasRecord.exists(db, key: ["function": function, "name": qualifier])
            }
            guard exists else { throw StoreError(.notFound, "Function not found: \(arn(function, qualifier))") }
        }
        return ["function": function, "qualifier": qualifier]
    }

    private static func check(_ expectedRevisionId: String?, _ policy: PolicyRecord) throws {
        if let expectedRevisionId, expectedRevisionId != policy.revisionId {
            throw StoreError(.preconditionFailed, "The RevisionId provided does not match the latest RevisionId "
                + "for the Lambda function or alias. Call the GetFunction or the GetAlias API to retrieve the latest "
                + "RevisionId for your resource.")
        }
    }
}
