import Testing

@testable import HTTPServer

/// Chunked request bodies through the connection machine (no sockets): buffered routes get the
/// decoded body, streaming routes its decoded pieces, and the connection serves the next request.
@Suite struct HTTPConnectionMachineChunkedTests {
    typealias Peer = HTTPConnectionMachineTests.Peer

    static func chunked(_ path: String, extra: String = "") -> String {
        "POST \(path) HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\(extra)\r\n"
    }

    @Test func aBufferedRouteGetsTheDecodedBodyAndKeepAliveGoesOn() {
        var peer = Peer()
        peer.send(Self.chunked("/claims") + "3\r\nabc")
        #expect(peer.dispatched.isEmpty)
        peer.send("\r\n4;x=y\r\ndefg\r\n0\r\nT: 1\r\n\r\n" + HTTPConnectionMachineTests.get(5))
        #expect(peer.dispatched.map(\.pattern) == ["/claims", "/items/{id}"])
        #expect(peer.dispatched.first?.body == Array("abcdefg".utf8))
        #expect(peer.dispatched.first?.head.isChunked == true)
        peer.respond(1, body: "g")
        peer.respond(0, 201, body: "c")
        #expect(peer.take() == "HTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nc" + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ng")
        #expect(!peer.closed && !peer.shutDown)
    }

    @Test func aBufferedBodyOverItsLimitGets413WhenItsDecodedSizePassesIt() {
        var peer = Peer()  // /claims takes 16 bytes
        peer.send(Self.chunked("/claims") + "8\r\n12345678\r\n8\r\n12345678\r\n")
        #expect(peer.text.isEmpty)  // 16 bytes: still within the limit
        peer.send("1\r\n")
        #expect(peer.take().hasPrefix("HTTP/1.1 413 Content Too Large\r\n"))
        #expect(peer.dispatched.isEmpty)
        #expect(peer.shutDown)
    }

    @Test func aStreamingRouteGetsDecodedPiecesAsTheyArrive() {
        var peer = Peer()
        peer.send(Self.chunked("/uploads") + "3\r\nabc\r\n2\r\nde")
        #expect(peer.dispatched.map(\.pattern) == ["/uploads"])
        #expect(peer.delivered.map(\.bytes) == [Array("abcde".utf8)])  // one piece for two chunks
        peer.machine.bodyChunkTaken(0)
        peer.send("\r\n1\r\nf\r\n0\r\n\r\n" + HTTPConnectionMachineTests.get(2))
        #expect(peer.delivered.map(\.bytes) == [Array("abcde".utf8), Array("f".utf8)])
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [true])
        #expect(peer.dispatched.map(\.pattern) == ["/uploads", "/items/{id}"])
        peer.respond(0, 202, body: "up")
        peer.respond(1, body: "g")
        #expect(peer.take() == "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nup" + "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ng")
        #expect(!peer.closed)
    }

    @Test func aMalformedStreamedBodyIsTheRequestsAnswerAndTheStreamIsCutOff() {
        var peer = Peer()
        peer.send(Self.chunked("/uploads") + "3\r\nabc\r\n")
        peer.machine.bodyChunkTaken(0)
        peer.send("3\r\nxyz\n0\r\n\r\n" + HTTPConnectionMachineTests.get(2))
        #expect(peer.delivered.map(\.bytes) == [Array("abc".utf8), Array("xyz".utf8)])
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [false])
        let answer = peer.take()
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer.contains("Connection: close\r\n"))
        #expect(answer.contains(#""code":"invalid_chunked_body""#))
        #expect(peer.shutDown)
        // The handler's own answer, late, is not a second response.
        peer.respond(0, 400, body: "cut")
        #expect(peer.take() == "")
        #expect(peer.dispatched.count == 1)
    }

    @Test func aStreamedBodyOverTheRouteLimitIsRefusedAtItsChunkSize() {
        var peer = Peer()  // /uploads takes 1000 bytes
        peer.send(Self.chunked("/uploads") + "3E8\r\n" + String(repeating: "a", count: 1000) + "\r\n")
        #expect(peer.delivered.map(\.bytes.count) == [1000])
        peer.machine.bodyChunkTaken(0)
        peer.send("1\r\nb\r\n0\r\n\r\n")
        #expect(peer.ended.map(\.complete) == [false])
        #expect(peer.take().hasPrefix("HTTP/1.1 413 Content Too Large\r\n"))
        #expect(peer.delivered.count == 1)
        #expect(peer.shutDown)
    }

    @Test func afterAnEarlyAnswerAMalformedRestClosesWithoutASecondResponse() {
        var peer = Peer()
        peer.send(Self.chunked("/uploads") + "3\r\nabc\r\n")
        peer.respond(0, 400, body: "no")
        #expect(peer.take() == "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
        peer.send("zz\r\n")
        #expect(peer.take() == "")
        #expect(peer.shutDown)
        #expect(peer.ended.map(\.complete) == [false])
    }

    @Test func continueIsSentForAChunkedBody() {
        var peer = Peer()
        peer.send(Self.chunked("/claims", extra: "Expect: 100-continue\r\n"))
        #expect(peer.take() == "HTTP/1.1 100 Continue\r\n\r\n")
        peer.send("2\r\nok\r\n0\r\n\r\n")
        #expect(peer.dispatched.first?.body == Array("ok".utf8))
    }

    @Test func bothFramingHeadersGet400AndCloseBeforeAnyDispatch() {
        var peer = Peer()
        peer.send("POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
            + HTTPConnectionMachineTests.get(1))
        let answer = peer.take()
        #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(answer.contains("content_length_with_transfer_encoding"))
        #expect(peer.dispatched.isEmpty)
        #expect(peer.shutDown)
        var gzip = Peer()
        gzip.send("POST /claims HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        #expect(gzip.take().hasPrefix("HTTP/1.1 501 Not Implemented\r\n"))
        #expect(gzip.dispatched.isEmpty)
    }
}

/// Graceful drain with a body still arriving: the request is in flight, so its body is read to
/// the end and it is answered (`Connection: close`); nothing after it is read.
@Suite struct HTTPConnectionMachineDrainBodyTests {
    typealias Peer = HTTPConnectionMachineTests.Peer

    @Test func aStreamingUploadStillArrivingIsReadToItsEndAndAnswered() {
        var peer = Peer()
        peer.send(HTTPConnectionMachineChunkedTests.chunked("/uploads") + "3\r\nabc\r\n")
        peer.machine.bodyChunkTaken(0)
        peer.machine.drain()
        #expect(peer.machine.unansweredCount == 1)
        peer.send("3\r\ndef\r\n0\r\n\r\n" + HTTPConnectionMachineTests.get(2))  // the GET is never read
        #expect(peer.delivered.map(\.bytes) == [Array("abc".utf8), Array("def".utf8)])
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [true])
        #expect(peer.dispatched.count == 1)
        peer.respond(0, 201, body: "up")
        #expect(peer.take() == "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nup")
        #expect(peer.shutDown)
        #expect(peer.machine.unansweredCount == 0)
    }

    @Test func aContentLengthUploadToo() {
        var peer = Peer()
        peer.send(HTTPConnectionMachineTests.upload(length: 6) + "abc")
        peer.machine.bodyChunkTaken(0)
        peer.machine.drain()
        peer.send("def")
        peer.machine.bodyChunkTaken(0)
        peer.run(now: 0)
        #expect(peer.ended.map(\.complete) == [true])
        peer.respond(0, 202, body: "up")
        #expect(peer.take() == "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nup")
        #expect(peer.shutDown)
    }

    @Test func aBufferedBodyStillArrivingIsDispatchedAsTheLastRequest() {
        var peer = Peer()
        peer.send(HTTPConnectionMachineTests.get(1) + "POST /claims HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        peer.machine.drain()
        #expect(peer.machine.unansweredCount == 2)  // the GET, and the claim whose body is arriving
        peer.send("cd" + HTTPConnectionMachineTests.get(3))
        #expect(peer.dispatched.map(\.head.target) == ["/items/1", "/claims"])
        #expect(peer.dispatched.last?.body == Array("abcd".utf8))
        peer.respond(1, 201, body: "c")
        peer.respond(0, body: "g")
        #expect(peer.take() == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ng" + "HTTP/1.1 201 Created\r\nContent-Length: 1\r\nConnection: close\r\n\r\nc")
        #expect(peer.shutDown)
    }

    @Test func anUploadTheHandlerAlreadyAnsweredIsNotWaitedFor() {
        var peer = Peer()
        peer.send(HTTPConnectionMachineTests.upload(length: 100) + "abc")
        peer.respond(0, 400, body: "no")
        peer.machine.drain()
        #expect(peer.take() == "HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno")
        peer.run(now: 0)
        #expect(peer.shutDown)
    }

    @Test func aHeadNotCompleteWhenTheDrainStartsGetsNoAnswer() {
        var peer = Peer()
        peer.send("POST /uploads HTTP/1.1\r\nHo")
        peer.machine.drain()
        peer.run(now: 0)
        #expect(peer.machine.unansweredCount == 0)
        #expect(peer.shutDown)
        peer.send("st: x\r\nContent-Length: 3\r\n\r\nabc")
        #expect(peer.dispatched.isEmpty)
    }
}
