--[[
    This file is part of commons-helper's darktable plugin.

    commons-helper is free software: you can redistribute it and/or modify
    it under the terms of the GNU General Public License as published by
    the Free Software Foundation, either version 3 of the License, or
    (at your option) any later version.

    commons-helper is distributed in the hope that it will be useful,
    but WITHOUT ANY WARRANTY; without even the implied warranty of
    MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
    GNU General Public License for more details.

    You should have received a copy of the GNU General Public License
    along with commons-helper.  If not, see <http://www.gnu.org/licenses/>.
]]
--[[
    commons_export - export photos to Wikimedia Commons

    DESCRIPTION
    Adds "Wikimedia Commons" as a target storage in darktable's export
    module. Each exported photo is handed, with what darktable knows about
    it (title, description, creator, rights, tags, location, date), to the
    commons-helper service on this computer, which signs in to Wikimedia,
    writes the file description page, checks for duplicates and uploads.
    Exporting an edited photo again uploads a new version of the same
    Commons file. After the export darktable shows what happened to each
    photo and tags it "Wikimedia Commons|File|<title>".

    ADDITIONAL SOFTWARE NEEDED FOR THIS SCRIPT
    * commons-helper (`pip install commons-helper`), signed in once with
      `commons-helper login`; the plugin starts its service when needed
    * curl (part of Linux, macOS and Windows 10+)

    USAGE
    * install with `commons-helper install-darktable`, or copy this file and
      the commons_export folder to <configdir>/lua/contrib/ and add
      require "contrib/commons_export" to <configdir>/luarc
    * choose "Wikimedia Commons" as target storage in the export module,
      pick the license and categories, export
    * defaults: preferences → lua options (license, author, helper command)

    BUGS, COMMENTS, SUGGESTIONS
    * see docs/darktable.md of commons-helper

    CHANGES
    * 0.1.0 first version (darktable 4.2, Lua API 9.0)
]]

local dt = require "darktable"

local MODULE = "commons_export"
local MIN_API = "9.0.0"

-- -------------------------------------------------------------------------
-- translations

local gettext = dt.gettext
if gettext and gettext.bindtextdomain and dt.configuration and dt.configuration.config_dir then
  pcall(gettext.bindtextdomain, MODULE, dt.configuration.config_dir .. "/lua/locale/")
end

local function _(msgid)
  if gettext and gettext.dgettext then return gettext.dgettext(MODULE, msgid) end
  return msgid
end

-- -------------------------------------------------------------------------
-- API version check (lua-scripts' dtutils may not be installed)

local function check_min_api_version(min)
  local have = dt.configuration.api_version_string
  local logic_version_ok = true
  local function parts(v)
    local t = {}
    for n in tostring(v or ""):gmatch("%d+") do t[#t + 1] = tonumber(n) end
    return t
  end
  local a, b = parts(have), parts(min)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i] or 0, b[i] or 0
    if x ~= y then logic_version_ok = x > y; break end
  end
  if not logic_version_ok then
    local msg = string.format(_("Wikimedia Commons export needs darktable's Lua API %s or newer; this darktable has %s"),
      min, tostring(have))
    dt.print_error(msg)
    dt.print(msg)
  end
  return logic_version_ok
end

local script_data = {}
script_data.metadata = {
  name = "commons_export",
  purpose = _("export photos to Wikimedia Commons through commons-helper"),
  author = "commons-helper contributors",
  help = "docs/darktable.md in commons-helper; the upload queue: commons-helper open",
}
script_data.destroy = nil
script_data.destroy_method = nil
script_data.restart = nil
script_data.show = nil

if not check_min_api_version(MIN_API) then
  return script_data
end

-- -------------------------------------------------------------------------
-- our own modules, next to this file in commons_export/

local function plugin_dir()
  local src = debug.getinfo(1, "S").source or ""
  return src:match("^@(.*[/\\])") or ""
end

local function load_local(name, ...)
  local path = plugin_dir() .. "commons_export/" .. name .. ".lua"
  local chunk, err = loadfile(path)
  if not chunk then error("commons_export: cannot load " .. path .. ": " .. tostring(err), 0) end
  return chunk(...)
end

local json = load_local("json")
local logic = load_local("logic", json)
logic.set_translator(_)

local WINDOWS = (dt.configuration.running_os == "windows") or package.config:sub(1, 1) == "\\"

-- how long finalize waits for the helper to finish the batch (seconds)
local WAIT_SECONDS = tonumber(os.getenv("COMMONS_EXPORT_WAIT") or "") or 120
-- how long store waits for a helper it started (seconds)
local START_SECONDS = tonumber(os.getenv("COMMONS_EXPORT_START_WAIT") or "") or 15
local POLL_MS = 500

-- state kept for the whole darktable session (never secrets)
local session = { runtime = nil }

-- -------------------------------------------------------------------------
-- small helpers

local function q(s) return logic.shell_quote(s, WINDOWS) end

local function tmpname()
  local name = os.tmpname()  -- mkstemp on POSIX: the file exists, mode 0600
  if WINDOWS then
    -- Windows' tmpnam gives a name in the drive root; use %TEMP% instead
    name = (os.getenv("TEMP") or ".") .. name
  end
  return name
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function write_file(path, text)
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  f:close()
  if not ok then return nil, werr end
  return true
end

local function file_exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

local function first_line(text)
  return logic.trim((tostring(text or ""):match("[^\r\n]*[^%s][^\r\n]*") or ""))
end

local function log(msg)
  dt.print_log("commons_export: " .. msg)
end

-- messages the photographer must see: a toast, the log, and our log file
local function tell(msg)
  dt.print(msg)
  log(msg)
  local dir = dt.configuration.cache_dir
  if dir then
    local f = io.open(dir .. "/commons_export.log", "a")
    if f then
      f:write(os.date("%Y-%m-%d %H:%M:%S "), msg, "\n")
      f:close()
    end
  end
end

-- wait without holding the Lua lock. On POSIX through `sleep` (dt.control.execute
-- releases the lock while it runs), as a precaution: on darktable 4.2.1 a dispatched
-- job waiting with dt.control.sleep was seen deadlocking darktable (docs/darktable.md).
local function pause(ms)
  if WINDOWS then return dt.control.sleep(ms) end
  local rc = dt.control.execute(string.format("sleep %d.%03d", ms // 1000, ms % 1000))
  if rc ~= 0 then dt.control.sleep(ms) end
end

local function helper_command()
  local c = logic.trim(dt.preferences.read(MODULE, "helper_command", "string"))
  if c == "" then return "commons-helper" end
  if file_exists(c) then return q(c) end
  return c  -- a command line written by the photographer, e.g. "python3 -m commons_helper"
end

local function tag_names(image)
  local names = {}
  for _, tag in ipairs(dt.tags.get_tags(image)) do names[#names + 1] = tag.name end
  return names
end

-- -------------------------------------------------------------------------
-- talking to the helper

-- the helper's runtime file path, asked once per darktable session
local function runtime_path()
  if session.runtime then return session.runtime end
  local out, err = tmpname(), tmpname()
  local cmd = helper_command()
  local rc = dt.control.execute(cmd .. " paths --json >" .. q(out) .. " 2>" .. q(err))
  local text, etext = read_file(out) or "", read_file(err) or ""
  os.remove(out)
  os.remove(err)
  local data = rc == 0 and json.decode(text) or nil
  if type(data) ~= "table" or type(data.runtime) ~= "string" then
    local why = first_line(etext)
    if why == "" then why = string.format(_("exit status %s"), tostring(rc)) end
    return nil, string.format(
      _("could not run `%s paths --json` (%s). Install commons-helper, or set its full path in preferences → lua options → Wikimedia Commons: helper command"),
      cmd, why)
  end
  session.runtime = data.runtime
  return session.runtime
end

-- {url, secret, pid} from the runtime file, or nil
local function read_runtime(path)
  local data = json.decode(read_file(path) or "")
  if type(data) ~= "table" or type(data.url) ~= "string" or type(data.secret) ~= "string" then return nil end
  return data
end

-- the Authorization header lives in a 0600 temp file, never on a command line
local function header_file(state, secret)
  if state.header and state.header_secret == secret then return state.header end
  state.header = state.header or tmpname()
  local ok, err = write_file(state.header, "Authorization: Bearer " .. secret .. "\n")
  if not ok then error(_("cannot write a temporary file: ") .. tostring(err), 0) end
  state.header_secret = secret
  return state.header
end

-- run curl against the helper: rc (compare with ~= 0), http code, body, stderr
local function curl(state, rt, args, max_time)
  local resp, code, err = tmpname(), tmpname(), tmpname()
  local cmd = table.concat({
    "curl -sS --connect-timeout 3 --max-time " .. tostring(max_time),
    "-o " .. q(resp), "-w " .. q("%{http_code}"),
    "-H " .. q("@" .. header_file(state, rt.secret)),
    args,
    ">" .. q(code), "2>" .. q(err),
  }, " ")
  local rc = dt.control.execute(cmd)
  local http_code, body, etext = read_file(code), read_file(resp), read_file(err)
  os.remove(resp)
  os.remove(code)
  os.remove(err)
  return rc, http_code, body, etext
end

local function health(state, rt)
  local rc, code, body, err = curl(state, rt, q(rt.url .. "/api/v1/health"), 3)
  return logic.interpret(rc, code, body, err, 200)
end

local function start_helper(state)
  local logfile = (dt.configuration.tmp_dir or "/tmp") .. "/commons-helper-serve.log"
  state.serve_log = logfile
  local cmd
  if WINDOWS then
    -- untested: start it without a console window, detached from darktable
    cmd = 'start "" /B ' .. helper_command() .. " serve >" .. q(logfile) .. " 2>&1"
  else
    -- detached, inheriting darktable's environment (COMMONS_HELPER_HOME included)
    cmd = "nohup " .. helper_command() .. " serve >" .. q(logfile) .. " 2>&1 </dev/null &"
  end
  log("starting the helper: " .. cmd)
  return dt.control.execute(cmd)
end

-- a runtime {url, secret} of a helper that answers, starting one if needed
local function ensure_helper(state)
  if state.helper_error then return nil, state.helper_error end
  local rpath, err = runtime_path()
  if not rpath then
    state.helper_error = err
    return nil, err
  end
  local rt = read_runtime(rpath)
  if rt and state.helper_ok then return rt end
  if rt and health(state, rt).ok then
    state.helper_ok = true
    return rt
  end
  if not state.started then
    state.started = true
    tell(_("Wikimedia Commons: starting the helper service…"))
    start_helper(state)
    local waited = 0
    while waited < START_SECONDS * 1000 do
      pause(250)
      waited = waited + 250
      rt = read_runtime(rpath)
      if rt and health(state, rt).ok then
        state.helper_ok = true
        return rt
      end
    end
  end
  local why = ""
  for line in (state.serve_log and read_file(state.serve_log) or ""):gmatch("[^\r\n]+") do
    if line:find("%S") then why = logic.trim(line) end  -- the last line of its output
  end
  err = string.format(_("the helper service is not running and did not start within %d s%s; run `commons-helper serve` in a terminal to see why"),
    START_SECONDS, why ~= "" and (" (" .. why .. ")") or "")
  state.helper_error = err
  return nil, err
end

local function post_upload(state, rt, filename, metafile)
  return logic.interpret_upload(curl(state, rt, table.concat({
    "-F " .. q(logic.curl_file_field("file", filename)),
    "-F " .. q(logic.curl_file_field("meta", metafile, "application/json")),
    q(rt.url .. "/api/v1/uploads"),
  }, " "), 300))
end

-- -------------------------------------------------------------------------
-- the export widget

local license_labels = {}
for i, l in ipairs(logic.LICENSES) do license_labels[i] = _(l.label) end
license_labels[#license_labels + 1] = _(logic.CUSTOM_LICENSE_LABEL)
local CUSTOM_INDEX = #license_labels

local reexport_labels = {}
for i, r in ipairs(logic.REEXPORT) do reexport_labels[i] = _(r.label) end

dt.preferences.register(MODULE, "helper_command", "string",
  _("Wikimedia Commons: helper command"),
  _("full path of commons-helper if it is not on PATH (leave empty to use commons-helper from PATH)"), "")
dt.preferences.register(MODULE, "author", "string",
  _("Wikimedia Commons: author"),
  _("author shown on the file page when a photo has no creator (empty: the helper's setting)"), "")
dt.preferences.register(MODULE, "default_license", "enum",
  _("Wikimedia Commons: default license"),
  _("license chosen in the export module when darktable starts"),
  license_labels[1], table.unpack(license_labels, 1, CUSTOM_INDEX - 1))

local function read_pref(name, kind, default)
  local ok, v = pcall(dt.preferences.read, MODULE, name, kind)
  if not ok or v == nil or v == "" then return default end
  return v
end

local function index_of(labels, label, default)
  for i, l in ipairs(labels) do if l == label then return i end end
  return default
end

local default_license_index = index_of(license_labels, read_pref("default_license", "enum", ""), 1)

local custom_license = dt.new_widget("entry"){
  text = read_pref("last_custom_license", "string", ""),
  placeholder = _("license template, e.g. {{self|cc-by-sa-4.0|GFDL}}"),
  tooltip = _("a license template as written on Commons"),
  visible = false,
}
local license = dt.new_widget("combobox"){
  label = _("license"),
  tooltip = _("the license of your own work; a photo with no license is not uploaded"),
  changed_callback = function(self) custom_license.visible = (self.selected == CUSTOM_INDEX) end,
  table.unpack(license_labels),
}
license.selected = default_license_index
custom_license.visible = (default_license_index == CUSTOM_INDEX)

local categories = dt.new_widget("entry"){
  text = "",
  placeholder = _("categories for this export, separated by ;"),
  tooltip = _("Commons categories added to every photo of this export (tags under Category| are added too)"),
}
local language = dt.new_widget("entry"){
  text = read_pref("last_language", "string", logic.language_from_locale(os.getenv("LANG"))),
  placeholder = _("language code, e.g. en"),
  tooltip = _("language of the titles and descriptions you wrote in darktable"),
}
local title_pattern = dt.new_widget("entry"){
  text = read_pref("last_title_pattern", "string", ""),
  placeholder = _("file name pattern, e.g. {title} {date}"),
  tooltip = _("Commons file name: {title}, {description}, {date}, {seq}, {filename}, {camera}; empty: the helper's setting"),
}
local reexport = dt.new_widget("combobox"){
  label = _("re-export"),
  tooltip = _("what to do when an exported photo is already on Commons (it carries a Wikimedia Commons|File| tag)"),
  table.unpack(reexport_labels),
}
reexport.selected = index_of(reexport_labels, read_pref("last_reexport", "string", ""), 1)
local strip_location = dt.new_widget("check_button"){
  label = _("strip location"),
  tooltip = _("publish no location and remove GPS data from the uploaded copy"),
  value = read_pref("last_strip_location", "bool", false),
}

local widget = dt.new_widget("box"){
  orientation = "vertical",
  license,
  custom_license,
  dt.new_widget("label"){ label = _("categories") },
  categories,
  dt.new_widget("label"){ label = _("description language") },
  language,
  dt.new_widget("label"){ label = _("title pattern") },
  title_pattern,
  reexport,
  strip_location,
}

-- the widget's choices, remembered for the next session (categories are per export)
local function current_choices()
  local lic
  if license.selected == CUSTOM_INDEX then
    lic = logic.trim(custom_license.text)
  else
    lic = (logic.LICENSES[license.selected] or logic.LICENSES[1]).value
  end
  local choices = {
    license = lic,
    categories = logic.parse_categories(categories.text),
    language = logic.trim(language.text),
    title_pattern = logic.trim(title_pattern.text),
    on_reexport = (logic.REEXPORT[reexport.selected] or logic.REEXPORT[1]).value,
    strip_location = strip_location.value and true or false,
    author = logic.trim(dt.preferences.read(MODULE, "author", "string")),
  }
  pcall(function()
    dt.preferences.write(MODULE, "last_custom_license", "string", custom_license.text or "")
    dt.preferences.write(MODULE, "last_language", "string", choices.language)
    dt.preferences.write(MODULE, "last_title_pattern", "string", choices.title_pattern)
    dt.preferences.write(MODULE, "last_reexport", "string", reexport.value or "")
    dt.preferences.write(MODULE, "last_strip_location", "bool", choices.strip_location)
  end)
  return choices
end

-- -------------------------------------------------------------------------
-- the storage

local function new_state()
  return {
    batch = logic.batch_id(os.time(), math.random(0, 0xFFFFFF)),
    choices = current_choices(),
    jobs = {},       -- { {id=, image=, file=} } in export order
    failures = {},   -- { {file=, reason=} }
  }
end

local function get_state(extra_data)
  if not extra_data.commons then extra_data.commons = new_state() end
  return extra_data.commons
end

local function store_one(state, image, filename)
  local ext = logic.extension(filename)
  if not logic.EXTENSIONS[ext] then
    return nil, string.format(_("Commons does not take .%s files from darktable; export JPEG, PNG, TIFF or WebP"), ext)
  end
  local rt, err = ensure_helper(state)
  if not rt then return nil, err end
  local meta = logic.build_meta(image, tag_names(image), state.choices, state.batch)
  local metafile = tmpname()
  local ok, werr = write_file(metafile, json.encode(meta))
  if not ok then
    os.remove(metafile)
    return nil, _("cannot write a temporary file: ") .. tostring(werr)
  end
  local r = post_upload(state, rt, filename, metafile)
  if not r.ok and logic.safe_to_post_again(r) and not state.retried then
    -- the helper went away or restarted with a new secret: look again, once per export
    state.retried = true
    state.helper_ok = false
    rt, err = ensure_helper(state)
    if rt then r = post_upload(state, rt, filename, metafile) end
  end
  os.remove(metafile)
  if not r.ok then
    if r.kind == "unreachable" then state.helper_error = r.reason end
    if r.kind == "unreachable" and not logic.safe_to_post_again(r) then
      -- not sent again: that could queue the photo twice
      return nil, r.reason .. _("; the helper may still upload this photo (see commons-helper open)")
    end
    return nil, r.reason
  end
  return r.id
end

local function store(storage, image, format, filename, number, total, high_quality, extra_data)
  local state = get_state(extra_data)
  local file = logic.basename(filename)
  local ok, id, reason = pcall(store_one, state, image, filename)
  if ok and id then
    state.jobs[#state.jobs + 1] = { id = id, image = image, file = file }
  else
    reason = ok and reason or tostring(id)
    state.failures[#state.failures + 1] = { file = file, reason = reason }
    log(file .. ": " .. reason)
  end
  -- darktable never deletes an exported file; the helper has its own copy now,
  -- and a photo that did not reach it can simply be exported again
  os.remove(filename)
end

local function poll_batch(state, rt)
  local rc, code, body, err = curl(state, rt, q(rt.url .. "/api/v1/uploads?batch=" .. state.batch), 10)
  local r = logic.interpret(rc, code, body, err, 200)
  if r.ok and type(r.data.jobs) ~= "table" then
    return { ok = false, kind = "protocol", reason = _("the helper's answer has no jobs") }
  end
  return r
end

local function set_title_tags(image, title)
  local tag_name = logic.title_tag(title)
  if not tag_name then return end
  for _, tag in ipairs(dt.tags.get_tags(image)) do
    local n = tag.name
    if n ~= tag_name and n:sub(1, #logic.FILE_TAG_PREFIX) == logic.FILE_TAG_PREFIX then
      dt.tags.detach(tag, image)  -- the image now points to its latest Commons file
    end
  end
  dt.tags.attach(dt.tags.create(logic.UPLOADED_TAG), image)
  dt.tags.attach(dt.tags.create(tag_name), image)
end

local function finalize_body(state)
  local ids, files, by_id = {}, {}, {}
  for _, j in ipairs(state.jobs) do
    ids[#ids + 1] = j.id
    files[j.id] = j.file
    by_id[j.id] = j
  end
  local jobs, lost, timed_out = {}, nil, false
  if #ids > 0 then
    local gui_job
    if dt.configuration.has_gui then
      gui_job = dt.gui.create_job(string.format(_("Wikimedia Commons: uploading %d photos"), #ids), true,
        function() state.cancelled = true end)
    end
    local waited, misses = 0, 0
    while true do
      local rt = read_runtime(session.runtime or "")
      local r = rt and poll_batch(state, rt) or
        { ok = false, reason = _("its runtime file is gone (it was stopped)") }
      if r.ok then
        misses = 0
        jobs = {}
        for _, job in ipairs(r.data.jobs) do
          if type(job) == "table" and by_id[tostring(job.id)] then jobs[#jobs + 1] = job end
        end
        if gui_job then gui_job.percent = logic.progress(jobs, #ids) end
        if logic.all_final(jobs, ids) then break end
      else
        misses = misses + 1
        if misses >= 3 then
          lost = r.reason
          break
        end
      end
      if state.cancelled then break end
      if waited >= WAIT_SECONDS * 1000 then
        timed_out = true
        break
      end
      pause(POLL_MS)
      waited = waited + POLL_MS
    end
    if gui_job then gui_job.valid = false end
  end
  -- jobs the helper never listed are still its business: count them as pending
  local seen = {}
  for _, job in ipairs(jobs) do seen[tostring(job.id)] = true end
  for _, id in ipairs(ids) do
    if not seen[id] then jobs[#jobs + 1] = { id = id, status = "queued", file = files[id] } end
  end
  for _, job in ipairs(jobs) do
    local j = by_id[tostring(job.id)]
    if j and logic.ON_COMMONS[job.status] and type(job.title) == "string" then
      local ok, err = pcall(set_title_tags, j.image, job.title)
      if not ok then log("tagging " .. j.file .. " failed: " .. tostring(err)) end
    end
    if j and job.status ~= "uploaded" then
      log(string.format("%s: %s%s", j.file, tostring(job.status),
        type(job.error) == "table" and (" — " .. tostring(job.error.message)) or ""))
    end
  end
  tell(logic.summarize({
    jobs = jobs, files = files, failures = state.failures,
    helper_lost = lost, timed_out = timed_out, cancelled = state.cancelled,
    watch = "commons-helper open",
  }))
end

local function finalize(storage, image_table, extra_data)
  local state = get_state(extra_data)
  local ok, err = pcall(finalize_body, state)
  if not ok then
    tell(_("Wikimedia Commons: the export ended with an error in the plugin: ") .. tostring(err) ..
      _(" — photos handed to the helper continue there; watch them with commons-helper open"))
  end
  if state.header then os.remove(state.header) end
end

local function supported(storage, format)
  local ext = format.extension
  return ext ~= nil and logic.EXTENSIONS[ext:lower()] == true
end

local function initialize(storage, format, images, high_quality, extra_data)
  extra_data.commons = new_state()
  -- returning a table here crashes some darktable 4.x builds; export everything given
  return nil
end

local function register()
  dt.register_storage(MODULE, _("Wikimedia Commons"), store, finalize, supported, initialize, widget)
end

local function destroy()
  dt.destroy_storage(MODULE)
end

register()

script_data.destroy = destroy
script_data.restart = register
script_data.destroy_method = "hide"

return script_data
