/// Syntax of the identifiers a template names (SKUs, business lines, store ids): 1...128
/// bytes of `A-Z a-z 0-9 _ - . : @`, safe as key parts and in logs.
enum TemplateIdentifier {
    static let maxLength = 128
    static let rule = "must be 1 to 128 characters of A-Z a-z 0-9 _ - . : @"

    static func isValid(_ text: String) -> Bool {
        var count = 0
        for byte in text.utf8 {
            count += 1
            if count > maxLength { return false }
            switch byte {
            case 0x61...0x7A, 0x41...0x5A, 0x30...0x39, 0x5F, 0x2D, 0x2E, 0x3A, 0x40: continue
            default: return false
            }
        }
        return count > 0
    }
}
