/// The decision record of an exchange or a draw attempt, kept under its request id as
/// `<user>\n<reply>` (a decision) or `<user>\n!<code>` (a refusal). `lua` defines
/// `decision_replay(req, user)`, composed into both scripts: nil for a new request, else the
/// answer to give again — `request_conflict` when another user owns the id.
enum DecisionRecord {
    static let lua = #"""

        local function decision_replay(req, user)
          local prior = redis.call('GET', req)
          if not prior then return nil end
          local sep = string.find(prior, '\n', 1, true)
          if string.sub(prior, 1, sep - 1) ~= user then return {'request_conflict'} end
          local rest = string.sub(prior, sep + 1)
          if string.sub(rest, 1, 1) == '!' then return {string.sub(rest, 2)} end
          return {'replayed', rest}
        end

        """#
}
