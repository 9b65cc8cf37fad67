import GRDB

/// Resource-based policies. A policy's RevisionId is that of what it is attached to, as Lambda has
/// it: the function's (unqualified), the version's or the alias's. Adding or removing a statement
/// gives that one a new RevisionId, so a caller that read the function or the alias can make its
/// change on that condition.
extension SQLiteStore {
    public func policy(of function: String, qualifier: String?) async throws -> PolicyRecord? {
        try await pool.read { db in
            let target = try self.policyTarget(db, function, qualifier)
            guard var policy = try PolicyRecord.fetchOne(db, key: target.key) else { return nil }
            policy.revisionId = target.revisionId
            return policy
        }
    }

    public func addPolicyStatement(_ function: String, qualifier: String?, _ statement: PolicyStatement,
                                   expectedRevisionId: String?) async throws -> PolicyRecord {
        try await pool.write { db in
            var target = try self.policyTarget(db, function, qualifier)
            try Self.check(expectedRevisionId, target.revisionId)
            var policy = try PolicyRecord.fetchOne(db, key: target.key)
                ?? PolicyRecord(function: function, qualifier: target.qualifier)
            if policy.statements.contains(where: { $0.sid == statement.sid }) {
                throw StoreError(.conflict, "The statement id (\(statement.sid)) provided already exists. Please "
                    + "provide a new statement id, or remove the existing statement.")
            }
            policy.statements.append(statement)
            policy.revisionId = try target.renew(db)
            try policy.save(db)
            return policy
        }
    }

    public func removePolicyStatement(_ function: String, qualifier: String?, sid: String,
                                      expectedRevisionId: String?) async throws {
        try await pool.write { db in
            var target = try self.policyTarget(db, function, qualifier)
            guard var policy = try PolicyRecord.fetchOne(db, key: target.key) else {
                throw StoreError(.notFound, "No policy is associated with the given resource.")
            }
            guard let index = policy.statements.firstIndex(where: { $0.sid == sid }) else {
                throw StoreError(.notFound, "Statement \(sid) is not found in resource policy.")
            }
            try Self.check(expectedRevisionId, target.revisionId)
            policy.statements.remove(at: index)
            policy.revisionId = try target.renew(db)
            if policy.statements.isEmpty {
                _ = try PolicyRecord.deleteOne(db, key: target.key)
            } else {
                try policy.update(db)
            }
        }
    }

    /// What a policy is attached to, once known to exist.
    private struct PolicyTarget {
        enum Kind { case function(FunctionRecord), version(VersionRow), alias(AliasRecord) }
        var kind: Kind
        /// `""` for the unqualified function.
        var qualifier: String
        var key: [String: String]

        var revisionId: String {
            switch kind {
            case .function(let record): record.revisionId
            case .version(let row): row.configuration.revisionId
            case .alias(let alias): alias.revisionId
            }
        }

        /// Gives the target a new RevisionId and returns it.
        mutating func renew(_ db: Database) throws -> String {
            let id = newRevisionId()
            switch kind {
            case .function(var record):
                record.revisionId = id
                try record.update(db)
                kind = .function(record)
            case .version(var row):
                row.configuration.revisionId = id
                try row.update(db)
                kind = .version(row)
            case .alias(var alias):
                alias.revisionId = id
                try alias.update(db)
                kind = .alias(alias)
            }
            return id
        }
    }

    private func policyTarget(_ db: Database, _ function: String, _ qualifier: String?) throws -> PolicyTarget {
        let record = try requireFunction(db, function)
        // `$LATEST` has no policy of its own: it names the function's.
        let qualifier = qualifier == "$LATEST" ? "" : qualifier ?? ""
        let key = ["function": function, "qualifier": qualifier]
        if qualifier.isEmpty {
            return PolicyTarget(kind: .function(record), qualifier: qualifier, key: key)
        }
        if let number = Self.versionNumber(qualifier),
           let row = try VersionRow.fetchOne(db, key: ["function": function, "number": number]) {
            return PolicyTarget(kind: .version(row), qualifier: qualifier, key: key)
        }
        if let alias = try AliasRecord.fetchOne(db, key: ["function": function, "name": qualifier]) {
            return PolicyTarget(kind: .alias(alias), qualifier: qualifier, key: key)
        }
        throw StoreError(.notFound, "Function not found: \(arn(function, qualifier))")
    }

    private static func check(_ expectedRevisionId: String?, _ current: String) throws {
        if let expectedRevisionId, expectedRevisionId != current {
            throw StoreError(.preconditionFailed, "The RevisionId provided does not match the latest RevisionId "
                + "for the Lambda function or alias. Call the GetFunction or the GetAlias API to retrieve the latest "
                + "RevisionId for your resource.")
        }
    }
}
