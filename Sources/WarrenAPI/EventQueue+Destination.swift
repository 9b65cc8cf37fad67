import Foundation
import WarrenPolicy
import WarrenSupervisor

extension EventQueue {
    /// The invocation record Lambda sends to an async destination:
    ///
    /// ```
    /// {"version":"1.0","timestamp":"2024-01-01T00:00:00.000Z",
    ///  "requestContext":{"requestId","functionArn","condition","approximateInvokeCount"},
    ///  "requestPayload":<the event>,
    ///  "responseContext":{"statusCode":200,"executedVersion":"$LATEST","functionError":"Unhandled"},
    ///  "responsePayload":<the function's response or error>}
    /// ```
    ///
    /// `responseContext` and `responsePayload` are absent when the function never
    /// answered (throttled until the event aged out); `functionError` only on an error.
    struct DestinationRecord {
        enum Condition: String {
            case success = "Success"
            case retriesExhausted = "RetriesExhausted"
            case eventAgeExceeded = "EventAgeExceeded"
            case zeroReservedConcurrency = "ZeroReservedConcurrency"
        }

        var requestId: String
        /// Qualified: `…:function:NAME:$LATEST`.
        var functionArn: String
        var condition: Condition
        var approximateInvokeCount: Int
        var requestPayload: [UInt8]
        var response: InvokeResult?
        var timestamp = Date()

        /// The record as JSON; payloads that are JSON are embedded as they came,
        /// anything else as a string.
        func json() -> [UInt8] {
            let stamp = timestamp.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            var parts: [String] = [
                #"{"version":"1.0","timestamp":"#, jsonQuoted(stamp),
                #","requestContext":{"requestId":"#, jsonQuoted(requestId),
                #","functionArn":"#, jsonQuoted(functionArn),
                #","condition":"#, jsonQuoted(condition.rawValue),
                #","approximateInvokeCount":"#, String(approximateInvokeCount),
                #"},"requestPayload":"#,
            ]
            var bytes = Array(parts.joined().utf8) + Self.embedded(requestPayload)
            if let response {
                parts = [
                    #","responseContext":{"statusCode":"#, String(response.statusCode),
                    #","executedVersion":"#, jsonQuoted(response.executedVersion),
                    response.functionError.map { #","functionError":"# + jsonQuoted($0) } ?? "",
                    #"},"responsePayload":"#,
                ]
                bytes += Array(parts.joined().utf8) + Self.embedded(response.payload)
            }
            return bytes + Array("}".utf8)
        }

        /// JSON text as is; an empty payload as `null`; anything else as a JSON string.
        static func embedded(_ payload: [UInt8]) -> [UInt8] {
            if payload.isEmpty { return Array("null".utf8) }
            if (try? JSONSerialization.jsonObject(with: Data(payload), options: .fragmentsAllowed)) != nil {
                return payload
            }
            return Array(jsonQuoted(String(decoding: payload, as: UTF8.self)).utf8)
        }
    }

    /// A Lambda function named by a destination ARN:
    /// `arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`.
    struct LambdaDestination: Equatable {
        var function: String
        /// `$LATEST` when the ARN has none.
        var qualifier: String

        /// `nil` for any other ARN (SQS, SNS, EventBridge …).
        init?(arn: String) {
            let parts = arn.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 7 || parts.count == 8, parts[0] == "arn", parts[2] == "lambda",
                  parts[5] == "function", !parts[6].isEmpty, parts.count == 7 || !parts[7].isEmpty else { return nil }
            function = String(parts[6])
            qualifier = parts.count == 8 ? String(parts[7]) : FunctionVersion.latest
        }
    }
}
