// The error a method's initialiser throws for a setting outside its range (settings come from users).
import Foundation

public enum MethodConfigurationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// `parameter` of `method` is `value`; `allowed` says the range (e.g. "≥ 1").
    case outOfRange(method: String, parameter: String, value: Double, allowed: String)

    public var description: String {
        switch self {
        case let .outOfRange(method, parameter, value, allowed):
            return "\(method): \(parameter) is \(value), expected \(allowed)"
        }
    }
}

extension MethodConfigurationError: LocalizedError {
    public var errorDescription: String? { description }
}
