-- wrk script for bench/serve_wrk.sh: cycles through a few seed questions, as GET /search or POST /ask.
--   wrk ... -s bench/wrk_requests.lua http://127.0.0.1:PORT -- search|ask
local questions = {
  "What did Lavrov say about the terrorist list?",
  "What did Kerry say about the Syrian opposition?",
  "What did they agree about ISIL?",
  "What did Kerry say about President Assad?",
  "What was said about the meeting in New York?",
  "What did Lavrov say about the Vienna documents?",
  "What did Kerry say about Ukraine?",
  "What did Lavrov say about Jordan?",
}
local mode = "search"
local counter = 0

function init(args)
  mode = args[1] or "search"
end

request = function()
  counter = counter + 1
  local question = questions[(counter % #questions) + 1]
  if mode == "ask" then
    local body = '{"question": "' .. question .. '"}'
    return wrk.format("POST", "/ask", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/search?q=" .. question:gsub("[^%w]", function(c)
    return string.format("%%%02X", string.byte(c))
  end))
end
