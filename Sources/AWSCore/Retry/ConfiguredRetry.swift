import Foundation

extension AWSConfiguration {
    /// The profile's `retry_mode` and `max_attempts`, as `RetryConfiguration.resolve` reads them.
    public var profileRetrySettings: [String: String] {
        var values: [String: String] = [:]
        if let profile = files.profile(named: profile.name) {
            for key in ["retry_mode", "max_attempts"] { values[key] = profile[key] }
        }
        return values
    }

    /// The retry mode and attempts of S3 and SSM clients: `AWS_RETRY_MODE` / `AWS_MAX_ATTEMPTS`,
    /// then the profile's `retry_mode` / `max_attempts`, then the defaults (standard, 3).
    public func retryConfiguration() throws(RetryConfiguration.InvalidValue) -> RetryConfiguration {
        try RetryConfiguration.resolve(environment: environment.variables, profile: profileRetrySettings)
    }

    /// Where the retry mode and the attempts came from, for `conveyor doctor`: the variable, the
    /// profile's setting, or "default".
    public var retrySources: (mode: String, maxAttempts: String) {
        let settings = profileRetrySettings
        func source(_ variable: String, _ key: String) -> String {
            if environment.variables[variable] != nil { return variable }
            if settings[key] != nil { return "\(key) in profile '\(profile.name)'" }
            return "default"
        }
        return (source("AWS_RETRY_MODE", "retry_mode"), source("AWS_MAX_ATTEMPTS", "max_attempts"))
    }
}
