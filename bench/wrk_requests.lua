-- wrk script for bench/serve_wrk.sh: cycles through a few seed questions, as GET /search or POST /ask.
--   wrk ... -s bench/wrk_requests.lua http://127.0.0.1:PORT -- search|ask bench/questions.txt
-- The questions file (bench/questions.txt) is the script's second argument, after the mode.
local questions = {}
local mode = "search"
local counter = 0

function init(args)
  mode = args[1] or "search"
  for line in io.lines(args[2]) do
    if line ~= "" then questions[#questions + 1] = line end
  end
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
