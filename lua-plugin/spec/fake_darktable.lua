-- A small fake of darktable's Lua API (9.0), enough to load and drive the plugin.
-- fake.execute_handler(cmd) decides what darktable.control.execute does.
local fake = {}

function fake.new(opts)
  opts = opts or {}
  local tmp = opts.tmp_dir or os.tmpname():match("^(.*)/") or "/tmp"
  local dt = {
    configuration = {
      api_version_string = opts.api or "9.0.0",
      running_os = "linux",
      has_gui = true,
      tmp_dir = tmp,
      cache_dir = opts.cache_dir or tmp,
      config_dir = tmp,
    },
    prints = {}, logs = {}, errors = {}, commands = {}, sleeps = 0, jobs = {},
    prefs = {}, registered = {}, storages = {},
  }
  dt.print = function(m) table.insert(dt.prints, m) end
  dt.print_log = function(m) table.insert(dt.logs, m) end
  dt.print_error = function(m) table.insert(dt.errors, m) end
  dt.preferences = {
    register = function(script, name, kind, label, tooltip, default, ...)
      dt.registered[script .. "/" .. name] = { kind = kind, label = label, default = default, values = { ... } }
      if dt.prefs[script .. "/" .. name] == nil then dt.prefs[script .. "/" .. name] = default end
    end,
    read = function(script, name, kind)
      local v = dt.prefs[script .. "/" .. name]
      if v == nil then
        if kind == "bool" then return false end
        if kind == "integer" or kind == "float" then return 0 end
        return ""
      end
      return v
    end,
    write = function(script, name, kind, value) dt.prefs[script .. "/" .. name] = value end,
  }
  dt.new_widget = function(kind)
    return function(t)
      t.__kind = kind
      if kind == "combobox" then
        t.selected = t.selected or 1
        setmetatable(t, { __index = function(self, k) if k == "value" then return rawget(self, rawget(self, "selected")) end end })
      end
      return t
    end
  end
  dt.register_storage = function(name, label, store, finalize, supported, initialize, widget)
    dt.storages[name] = { label = label, store = store, finalize = finalize, supported = supported,
      initialize = initialize, widget = widget }
  end
  dt.destroy_storage = function(name) dt.storages[name] = nil end
  dt.tags = {
    create = function(name)
      dt.all_tags = dt.all_tags or {}
      dt.all_tags[name] = dt.all_tags[name] or { name = name }
      return dt.all_tags[name]
    end,
    get_tags = function(image)
      local out = {}
      for _, t in ipairs(image._tags or {}) do out[#out + 1] = type(t) == "table" and t or { name = t } end
      return out
    end,
    attach = function(tag, image)
      image._tags = image._tags or {}
      for _, t in ipairs(image._tags) do
        if (type(t) == "table" and t.name or t) == tag.name then return end
      end
      table.insert(image._tags, tag)
    end,
    detach = function(tag, image)
      for i, t in ipairs(image._tags or {}) do
        if (type(t) == "table" and t.name or t) == tag.name then table.remove(image._tags, i) return end
      end
    end,
  }
  dt.gui = {
    create_job = function(text, cancellable, cb)
      local job = { text = text, percent = 0, valid = true, cancel = cb }
      table.insert(dt.jobs, job)
      return job
    end,
  }
  dt.control = {
    execute = function(cmd)
      if cmd:match("^sleep %d+%.%d+$") then  -- the plugin's pause()
        dt.sleeps = dt.sleeps + 1
        if dt.on_sleep then dt.on_sleep(tonumber(cmd:match("[%d.]+")) * 1000) end
        return 0
      end
      table.insert(dt.commands, cmd)
      if dt.execute_handler then return dt.execute_handler(cmd) end
      return 127
    end,
    sleep = function(ms)
      dt.sleeps = dt.sleeps + 1
      if dt.on_sleep then dt.on_sleep(ms) end
    end,
  }
  return dt
end

-- load the plugin with `dt` as darktable; returns script_data and the globals it set
function fake.load_plugin(dt, path)
  path = path or "./commons_export.lua"
  local globals = {}
  local env = setmetatable({}, {
    __index = _G,
    __newindex = function(t, k, v) globals[#globals + 1] = k; rawset(t, k, v) end,
  })
  local saved = package.loaded.darktable
  package.loaded.darktable = dt
  local chunk = assert(loadfile(path, "t", env))
  local ok, result = pcall(chunk)
  package.loaded.darktable = saved
  if not ok then error(result, 0) end
  return result, globals
end

-- unquote the POSIX single-quoted words of a command line
function fake.words(cmd)
  local words, i, n = {}, 1, #cmd
  local cur, have = {}, false
  while i <= n do
    local c = cmd:sub(i, i)
    if c == "'" then
      local j = cmd:find("'", i + 1, true)
      cur[#cur + 1] = cmd:sub(i + 1, j - 1)
      have = true
      i = j + 1
    elseif c == "\\" then
      cur[#cur + 1] = cmd:sub(i + 1, i + 1)
      have = true
      i = i + 2
    elseif c:match("%s") then
      if have then words[#words + 1] = table.concat(cur) end
      cur, have = {}, false
      i = i + 1
    else
      cur[#cur + 1] = c
      have = true
      i = i + 1
    end
  end
  if have then words[#words + 1] = table.concat(cur) end
  return words
end

local function write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end
fake.write = write

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local t = f:read("a")
  f:close()
  return t
end
fake.read = read

--[[
  A fake helper behind darktable.control.execute: understands the plugin's
  `commons-helper paths --json`, `... serve` and curl command lines.
  h = fake.helper(dt, {runtime = path, running = true, secret = "s3cret"})
  h.on_upload(meta, file_path) -> status, body   (default 201 and a new id)
  h.jobs_answer(batch) -> status, body           (default: all uploaded)
]]
function fake.helper(dt, opts)
  local json = require "commons_export.json"
  local h = {
    runtime = opts.runtime, running = opts.running, secret = opts.secret or "s3cret",
    uploads = {}, started = 0, headers = {}, next_id = 0, polls = 0,
  }
  local function write_runtime()
    write(h.runtime, json.encode({ url = "http://127.0.0.1:8471", pid = 1, secret = h.secret }))
  end
  if h.running then write_runtime() end
  function h.start()
    h.running = true
    write_runtime()
  end
  dt.execute_handler = function(cmd)
    local w = fake.words(cmd)
    if cmd:find(" paths %-%-json") then
      local out = cmd:match(">'([^']*)'")
      write(out, json.encode({ runtime = h.runtime, config = "/x" }))
      return 0
    end
    if cmd:find(" serve ") then
      h.started = h.started + 1
      if h.start_works ~= false then h.start() end
      return 0
    end
    assert(w[1] == "curl", "unexpected command: " .. cmd)
    local args = { form = {} }
    local k = 2
    while k <= #w do
      local a = w[k]
      if a == "-o" then args.o = w[k + 1]; k = k + 1
      elseif a == "-w" then args.w = w[k + 1]; k = k + 1
      elseif a == "-H" then args.H = w[k + 1]; k = k + 1
      elseif a == "-F" then table.insert(args.form, w[k + 1]); k = k + 1
      elseif a == "--max-time" or a == "--connect-timeout" then k = k + 1
      elseif a:sub(1, 2) == "2>" then args.err = a:sub(3) ~= "" and a:sub(3) or w[k + 1]
      elseif a:sub(1, 1) == ">" then args.out = a:sub(2) ~= "" and a:sub(2) or w[k + 1]
      elseif a:match("^http") then args.url = a
      end
      k = k + 1
    end
    -- curl writes nothing to stdout but the -w text; errors to stderr
    local function answer(status, body)
      write(args.o, body or "")
      write(args.out, tostring(status))
      write(args.err, "")
      return 0
    end
    if not h.running then
      write(args.out, "000")
      write(args.err, "curl: (7) Failed to connect to 127.0.0.1 port 8471 after 0 ms: Couldn't connect to server\n")
      write(args.o, "")
      return 7 * 256
    end
    local header = read(args.H:sub(2))
    table.insert(h.headers, header)
    if header ~= "Authorization: Bearer " .. h.secret .. "\n" then
      return answer(401, json.encode({ error = { code = "unauthorized", message = "wrong local key" } }))
    end
    if args.url:match("/api/v1/health$") then
      return answer(200, json.encode({ status = "ok" }))
    end
    if args.url:match("/api/v1/uploads$") then
      local file = args.form[1]:match('^file=@"(.*)"$'):gsub("\\(.)", "%1")
      local metapath = args.form[2]:match('^meta=@"(.*)";type=application/json$'):gsub("\\(.)", "%1")
      local meta = assert(json.decode(read(metapath)))
      table.insert(h.uploads, { meta = meta, file = file, exists = read(file) ~= nil })
      if h.on_upload then return answer(h.on_upload(meta, file)) end
      h.next_id = h.next_id + 1
      return answer(201, json.encode({ id = "job" .. h.next_id, batch = meta.batch, status = "queued" }))
    end
    local batch = args.url:match("/api/v1/uploads%?batch=(.*)$")
    if batch then
      h.polls = h.polls + 1
      if h.jobs_answer then return answer(h.jobs_answer(batch)) end
      local jobs = {}
      for i, u in ipairs(h.uploads) do
        jobs[#jobs + 1] = { id = "job" .. i, batch = batch, status = "uploaded",
          title = "File:" .. (u.meta.metadata.title ~= "" and u.meta.metadata.title or "Untitled") .. ".jpg" }
      end
      return answer(200, json.encode({ jobs = json.array(jobs) }))
    end
    return answer(404, json.encode({ error = { code = "not-found", message = "no such route" } }))
  end
  return h
end

return fake
