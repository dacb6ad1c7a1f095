internal import CLibPQ

extension PostgresConnection {
    /// Streams `rows` to a `COPY ... FROM STDIN` statement in text format (`nil` is NULL) and returns rows copied.
    ///
    /// `copySQL` is e.g. `COPY grants_staging (code, user_id) FROM STDIN`; each row must have one value per column.
    public func copyIn(_ copySQL: String, rows: [[String?]]) throws -> Int {
        let start = PQexec(handle, copySQL)
        guard let start else { throw connectionError(.copyFailed) }
        let startStatus = PQresultStatus(start)
        guard startStatus == PGRES_COPY_IN else {
            defer { PQclear(start) }
            if startStatus == PGRES_FATAL_ERROR { throw error(from: start, .copyFailed) }
            throw PostgresError(.copyFailed, "\(copySQL.prefix(80)) is not COPY FROM STDIN")
        }
        PQclear(start)

        var sendFailure: String?
        var buffer = [UInt8]()
        let flushThreshold = 256 * 1024
        buffer.reserveCapacity(flushThreshold + 4096)
        for row in rows where sendFailure == nil {
            PostgresCopyText.appendRow(row, to: &buffer)
            if buffer.count >= flushThreshold {
                sendFailure = putCopyData(buffer)
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if sendFailure == nil, !buffer.isEmpty { sendFailure = putCopyData(buffer) }
        // A NULL message ends the copy; a message aborts it so the server rolls the COPY back.
        let ended = sendFailure.map { PQputCopyEnd(handle, $0) } ?? PQputCopyEnd(handle, nil)

        // Drain every result until NULL, keeping the first error.
        var firstError: PostgresError?
        var copied = 0
        while let result = PQgetResult(handle) {
            let status = PQresultStatus(result)
            if status == PGRES_COMMAND_OK {
                copied = PQcmdTuples(result).map { Int(String(cString: $0)) ?? 0 } ?? 0
            } else if status == PGRES_COPY_IN {
                // Still in COPY state (PQputCopyEnd failed): abort so the loop can terminate.
                PQclear(result)
                if PQputCopyEnd(handle, "copy abandoned") != 1 { break }
                continue
            } else if firstError == nil {
                firstError = error(from: result, .copyFailed)
            }
            PQclear(result)
            if PQstatus(handle) != CONNECTION_OK { break }
        }
        if let firstError { throw firstError }
        if ended != 1 || sendFailure != nil || !isUsable {
            throw PostgresError(isUsable ? .copyFailed : .connectionClosed, sendFailure ?? "PQputCopyEnd failed: \(PostgresConnection.trimmed(PQerrorMessage(handle)))")
        }
        return copied
    }

    /// Sends one chunk; returns an error message on failure.
    private func putCopyData(_ bytes: [UInt8]) -> String? {
        let sent = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { PQputCopyData(handle, $0.baseAddress, Int32($0.count)) }
        }
        return sent == 1 ? nil : "PQputCopyData failed: \(PostgresConnection.trimmed(PQerrorMessage(handle)))"
    }
}

/// COPY's text format: tab-separated columns, newline-terminated rows, `\N` for NULL, backslash escapes.
enum PostgresCopyText {
    static func appendRow(_ row: [String?], to buffer: inout [UInt8]) {
        for (index, value) in row.enumerated() {
            if index > 0 { buffer.append(0x09) }
            guard let value else {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                continue
            }
            for byte in value.utf8 {
                switch byte {
                case UInt8(ascii: "\\"): buffer.append(0x5C); buffer.append(0x5C)
                case 0x09: buffer.append(0x5C); buffer.append(UInt8(ascii: "t"))
                case 0x0A: buffer.append(0x5C); buffer.append(UInt8(ascii: "n"))
                case 0x0D: buffer.append(0x5C); buffer.append(UInt8(ascii: "r"))
                default: buffer.append(byte)
                }
            }
        }
        buffer.append(0x0A)
    }
}
