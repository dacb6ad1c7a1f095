import CSystem
import EventLoop
import Glibc

/// A listening socket registered on one loop; accepted connections stay on that loop.
final class Listener: IOHandler {
    let fd: Int32
    private let context: LoopContext
    private var closed = false
    private var pausedForDescriptors = false

    init(fd: Int32, context: LoopContext) {
        self.fd = fd
        self.context = context
    }

    func start() throws(IOError) {
        try context.loop.register(fd: fd, interest: .read, handler: self)
    }

    func readable() {
        while !closed {
            let accepted: (fd: Int32, peer: String)
            do {
                guard case .processed(let next) = try Posix.accept(fd) else { return }
                accepted = next
            } catch {
                switch error.errnoCode {
                case ECONNABORTED, EPROTO:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors: the pending connection stays in the backlog and epoll would
                    // report it forever. Stop listening for a while instead of spinning.
                    pauseAccepting()
                    return
                default:
                    return
                }
            }
            let connection = HTTPConnection(fd: accepted.fd, context: context, peerAddress: accepted.peer)
            context.add(connection)
            do {
                try connection.start()
            } catch {
                connection.close()
            }
        }
    }

    func writable() {}

    private func pauseAccepting() {
        guard !pausedForDescriptors else { return }
        pausedForDescriptors = true
        context.loop.setInterest(fd: fd, [])
        context.loop.schedule(afterMilliseconds: 100) { [weak self] in
            guard let self, !self.closed else { return }
            self.pausedForDescriptors = false
            self.context.loop.setInterest(fd: self.fd, .read)
        }
    }

    func close() {
        guard !closed else { return }
        closed = true
        context.loop.unregister(fd: fd)
        Posix.close(fd)
    }

}
