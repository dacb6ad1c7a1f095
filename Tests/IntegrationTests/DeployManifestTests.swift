import CouponService
import Foundation
import Testing

/// deploy/k8s/ (issue 10 §3): every COUPOND_* variable the manifests set is a setting the node
/// reads, and the values parse (`make k8s-validate` checks the manifests against the Kubernetes
/// schemas). A misspelled variable would otherwise be ignored silently by the node.
@Suite struct DeployManifestTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `COUPOND_NAME: "value"` lines of the ConfigMap, and `- name: COUPOND_NAME` of the Deployment.
    static func variables(in file: String) throws -> [(name: String, value: String?)] {
        let text = try String(contentsOf: root.appendingPathComponent("deploy/k8s/" + file), encoding: .utf8)
        return text.split(separator: "\n").compactMap { raw in
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("COUPOND_"), let colon = line.firstIndex(of: ":") {
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (String(line[..<colon]), value)
            }
            if line.hasPrefix("- name: COUPOND_") { return (String(line.dropFirst("- name: ".count)), nil) }
            return nil
        }
    }

    static func settingName(_ variable: String) -> String {
        variable.dropFirst("COUPOND_".count).lowercased().replacingOccurrences(of: "_", with: "-")
    }

    @Test func everyVariableIsASettingAndParses() throws {
        let configMap = try Self.variables(in: "configmap.yaml")
        let deployment = try Self.variables(in: "deployment.yaml")
        #expect(configMap.count >= 10)
        #expect(deployment.map(\.name) == ["COUPOND_NODE_ID", "COUPOND_POSTGRES"])
        let known = Set(Configuration.settings.map(\.name))
        for variable in configMap + deployment {
            #expect(known.contains(Self.settingName(variable.name)), "\(variable.name) is not a coupond setting")
        }
        var environment = Dictionary(uniqueKeysWithValues: configMap.map { ($0.name, $0.value ?? "") })
        environment["COUPOND_NODE_ID"] = "coupond-7d9f-abcde"
        environment["COUPOND_POSTGRES"] = "host=pg dbname=coupond"
        let (configuration, rest) = try Configuration.parse(arguments: [], environment: environment)
        #expect(rest.isEmpty)
        #expect(configuration.port == 8080)
        #expect(configuration.redisCluster.count == 3)
        #expect(configuration.redisWaitReplicas == 1)
        #expect(configuration.drainTimeoutSeconds == 20)
        #expect(configuration.nodeId == "coupond-7d9f-abcde")
    }
}
