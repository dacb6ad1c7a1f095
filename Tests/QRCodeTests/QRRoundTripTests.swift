import CouponCore
import Foundation
import Testing

import QRCode

/// End to end through independent software: our SVG → `rsvg-convert` (librsvg) → PNG →
/// `zbarimg` (ZBar) → the same text. Both tools are Debian packages the Makefile installs.
@Suite struct QRRoundTripTests {
    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    /// Renders each text, rasterises it and decodes all images in one `zbarimg` run.
    static func roundTrip(_ texts: [String]) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var images: [String] = []
        for (index, text) in texts.enumerated() {
            let svg = directory.appendingPathComponent("\(index).svg").path
            let png = directory.appendingPathComponent("\(index).png").path
            try QRCode.encode(text).svg(moduleSize: 4).write(toFile: svg, atomically: false, encoding: .utf8)
            let rendered = try run("/usr/bin/rsvg-convert", ["-o", png, svg])
            #expect(rendered.status == 0, "rsvg-convert failed for \(text)")
            images.append(png)
        }
        // One decoded symbol per image, in order; `\n` cannot occur in the texts used here.
        let decoded = try run("/usr/bin/zbarimg", ["--raw", "-q", "-Sdisable", "-Sqrcode.enable"] + images)
        return decoded.output.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
    }

    /// Many symbols on one sheet, each cell our own SVG document nested as is: one `rsvg-convert`
    /// and one `zbarimg` for all of them (ZBar finds every symbol on the page, in no set order).
    static func roundTripOnOneSheet(_ texts: [String], columns: Int = 10) throws -> [String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let cell = 140
        let rows = (texts.count + columns - 1) / columns
        var sheet = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(columns * cell)" height="\#(rows * cell)">"#
        sheet += ##"<rect width="100%" height="100%" fill="#ffffff"/>"##
        for (index, text) in texts.enumerated() {
            let symbol = try QRCode.encode(text).svg(moduleSize: 4)
            let body = symbol[symbol.range(of: "<svg")!.lowerBound...]  // drop the XML declaration
            let placed = body.replacingOccurrences(
                of: "<svg ", with: #"<svg x="\#((index % columns) * cell)" y="\#((index / columns) * cell)" "#, options: [], range: body.startIndex..<body.index(body.startIndex, offsetBy: 5))
            sheet += placed
        }
        sheet += "</svg>"
        let svg = directory.appendingPathComponent("sheet.svg").path
        let png = directory.appendingPathComponent("sheet.png").path
        try sheet.write(toFile: svg, atomically: false, encoding: .utf8)
        #expect(try run("/usr/bin/rsvg-convert", ["-o", png, svg]).status == 0)
        let decoded = try run("/usr/bin/zbarimg", ["--raw", "-q", "-Sdisable", "-Sqrcode.enable", png])
        return decoded.output.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }

    @Test func twoHundredCouponCodesDecodeToThemselves() throws {
        let codes = (0..<200).map { _ in CouponCode.random().value }
        #expect(try Self.roundTripOnOneSheet(codes).sorted() == codes.sorted())
    }

    /// Texts of many lengths reach versions with several blocks of two sizes and version words.
    @Test func textsOfManyLengthsDecodeToThemselves() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:@")
        let lengths = [1, 14, 15, 26, 27, 42, 43, 62, 63, 84, 106, 122, 152, 180, 213, 300, 500]
        let texts = lengths.map { length in String((0..<length).map { _ in alphabet.randomElement(using: &generator)! }) }
        #expect(try Self.roundTrip(texts) == texts)
    }
}
