// A dynamic queue of independent work items (experiment cells) over the ranks of a job: rank 0 serves the
// next item to whichever rank asks first, from a thread of its own, while it works on items itself.
import Foundation

/// Items 0..<count, handed out in order, each once.
final class WorkCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func take() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard next < count else { return nil }
        next += 1
        return next - 1
    }
}

/// Runs `work(i)` once for every i in 0..<count, spread over the ranks as they become free (a rank asks rank 0
/// for the next item when it has finished the last one), and returns on every rank when all items are done.
/// In one process: in order. A `work` that throws on one rank must end the job (`Distributed.abortJob`).
public func distributeWork(count: Int, collective: Collective, _ work: (Int) throws -> Void) rethrows {
    guard collective.size > 1 else {
        for i in 0..<count { try work(i) }
        return
    }
    let request = 17001, reply = 17002  // message tags
    if collective.isRoot {
        let counter = WorkCounter(count: count)
        let served = DispatchSemaphore(value: 0)
        // Only this thread calls MPI on rank 0 until it ends (MPI_THREAD_SERIALIZED); it polls, so that a
        // waiting receive does not spin on a core the work needs.
        let server = Thread { [collective] in
            var finishedRanks = 0
            while finishedRanks < collective.size - 1 {
                guard let source = collective.pendingSender(tag: request) else {
                    usleep(20_000)
                    continue
                }
                _ = collective.receive(from: source, tag: request)
                let item = counter.take() ?? -1
                collective.send(Int64(item), to: source, tag: reply)
                if item < 0 { finishedRanks += 1 }
            }
            served.signal()
        }
        server.start()
        while let item = counter.take() { try work(item) }
        served.wait()
    } else {
        while true {
            collective.send(Int64(collective.rank), to: 0, tag: request)
            let item = collective.receive(from: 0, tag: reply)
            if item < 0 { break }
            try work(Int(item))
        }
    }
    collective.barrier()
}
