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
    commons_export/logic.lua - the plugin's pure logic, free of darktable calls

    Everything here works on plain values so it can be tested with busted:
    metadata collection (from anything indexable like a dt_lua_image_t),
    the Commons title tag, categories, shell and curl quoting, reading the
    helper's answers, and the summary shown in darktable.
]]

local json = ...
if type(json) ~= "table" then json = require "commons_export.json" end

local logic = {}

-- user-visible text goes through tr(); the plugin sets darktable's gettext wrapper
local tr = function(msgid) return msgid end
function logic.set_translator(fn) tr = fn or tr end

logic.TAG_ROOT = "Wikimedia Commons"
logic.UPLOADED_TAG = "Wikimedia Commons|uploaded"
logic.FILE_TAG_PREFIX = "Wikimedia Commons|File|"

-- job statuses (docs/api.md)
logic.FINAL = {
  uploaded = true, ["new-version"] = true, duplicate = true, unchanged = true,
  ["needs-attention"] = true, failed = true, cancelled = true,
}
-- final statuses after which the image is on Commons under job.title
logic.ON_COMMONS = { uploaded = true, ["new-version"] = true, duplicate = true, unchanged = true }

-- what Commons accepts and darktable writes
logic.EXTENSIONS = { jpg = true, jpeg = true, png = true, tif = true, tiff = true, webp = true }

-- license choices: value sent to the helper ("" = the helper's own setting)
logic.LICENSES = {
  { value = "", label = "license from the helper's settings" },
  { value = "cc-by-sa-4.0", label = "CC BY-SA 4.0" },
  { value = "cc-by-4.0", label = "CC BY 4.0" },
  { value = "cc-zero", label = "CC0 (public domain dedication)" },
}
logic.CUSTOM_LICENSE_LABEL = "custom license template"

logic.REEXPORT = {
  { value = "new-version", label = "new version of the same file" },
  { value = "new-file", label = "a separate new file" },
}

-- ------------------------------------------------------------------ text

local function trim(s)
  return (tostring(s or ""):gsub("^%s+", ""):gsub("%s+$", ""))
end
logic.trim = trim

-- the extension of a file name, lower case, without the dot
function logic.extension(path)
  local ext = tostring(path or ""):match("%.([^./\\]+)$")
  return ext and ext:lower() or ""
end

function logic.basename(path)
  return (tostring(path or ""):match("([^/\\]+)$")) or ""
end

-- "Category:Bridges in Paris; Paris\nBridges" -> {"Bridges in Paris", "Paris", "Bridges"}
function logic.parse_categories(text)
  local out, seen = json.array({}), {}
  for piece in tostring(text or ""):gmatch("[^;\n\r]+") do
    local name = trim(piece):gsub("^%[%[", ""):gsub("%]%]$", "")
    name = trim(name:gsub("^[Cc][Aa][Tt][Ee][Gg][Oo][Rr][Yy]%s*:", ""))
    name = name:gsub("_", " "):gsub("%s+", " ")
    if name ~= "" and not seen[name] then
      seen[name] = true
      out[#out + 1] = name
    end
  end
  return out
end

-- "File:X.jpg" or "X.jpg" -> "Wikimedia Commons|File|X.jpg"
function logic.title_tag(title)
  local name = trim(title):gsub("^[Ff][Ii][Ll][Ee]%s*:%s*", "")
  if name == "" or name:find("|", 1, true) then return nil end
  return logic.FILE_TAG_PREFIX .. name
end

-- the Commons title an image's tags point to ("File:X.jpg"), or nil;
-- several such tags: the last one in sorted order wins, all are returned second
function logic.title_from_tags(tag_names)
  local found = {}
  local prefix = logic.FILE_TAG_PREFIX:lower()
  for _, name in ipairs(tag_names or {}) do
    if type(name) == "string" and name:sub(1, #prefix):lower() == prefix then
      local rest = trim(name:sub(#prefix + 1))
      if rest ~= "" and not rest:find("|", 1, true) then
        found[#found + 1] = "File:" .. rest
      end
    end
  end
  table.sort(found)
  return found[#found], found
end

-- tags worth sending: darktable's own and ours left out
function logic.user_tags(tag_names)
  local out = json.array({})
  for _, name in ipairs(tag_names or {}) do
    if type(name) == "string" and name ~= ""
        and not name:match("^darktable|") and name ~= "darktable"
        and name:sub(1, #logic.TAG_ROOT + 1) ~= logic.TAG_ROOT .. "|" then
      out[#out + 1] = name
    end
  end
  table.sort(out)
  return out
end

-- ------------------------------------------------------------------ metadata

local function str(v)
  if v == nil then return "" end
  return tostring(v)
end

local function num(v)
  v = tonumber(v)
  if v == nil or v ~= v or v == math.huge or v == -math.huge then return nil end
  return v
end

local function field(image, name)
  -- a dt_lua_image_t raises an error on fields an older API lacks
  local ok, v = pcall(function() return image[name] end)
  if ok then return v end
  return nil
end

-- camera: "maker model" without the maker repeated in the model
local function camera(maker, model)
  maker, model = trim(maker), trim(model)
  local brand = maker:match("^%S+") or ""
  if brand ~= "" and model:lower():sub(1, #brand) == brand:lower() then return model end
  return trim(maker .. " " .. model)
end

--[[
  The "meta" part of an upload (docs/api.md).
  image:    a dt_lua_image_t or any table with the same fields
  tag_names: full tag paths ("a|b|c") of the image
  choices:  {license, categories (list), language, title_pattern, title,
             on_reexport, strip_location, author}
  batch:    the batch id of this export
]]
function logic.build_meta(image, tag_names, choices, batch)
  choices = choices or {}
  local commons_title = logic.title_from_tags(tag_names)
  local lat, lon = num(field(image, "latitude")), num(field(image, "longitude"))
  if lat == nil or lon == nil then lat, lon = nil, nil end
  local meta = {
    batch = batch,
    source = {
      app = "darktable",
      image_id = math.tointeger(num(field(image, "id"))) or json.null,
      path = str(field(image, "path")) .. (field(image, "path") and "/" or "") .. str(field(image, "filename")),
      filename = str(field(image, "filename")),
      duplicate_index = math.tointeger(num(field(image, "duplicate_index"))) or 0,
      commons_title = commons_title or json.null,
    },
    metadata = {
      title = str(field(image, "title")),
      description = str(field(image, "description")),
      creator = str(field(image, "creator")),
      rights = str(field(image, "rights")),
      tags = logic.user_tags(tag_names),
      latitude = lat or json.null,
      longitude = lon or json.null,
      elevation = num(field(image, "elevation")) or json.null,
      datetime_taken = str(field(image, "exif_datetime_taken")),
      camera = camera(field(image, "exif_maker"), field(image, "exif_model")),
      lens = trim(field(image, "exif_lens")),
    },
    options = {
      license = str(choices.license),
      categories = json.array(choices.categories or {}),
      language = str(choices.language),
      title_pattern = str(choices.title_pattern),
      title = str(choices.title),
      on_reexport = choices.on_reexport == "new-file" and "new-file" or "new-version",
      strip_location = choices.strip_location and true or false,
      author = str(choices.author),
    },
  }
  if meta.options.strip_location then
    -- never hand the location over when the photographer asked to strip it
    meta.metadata.latitude, meta.metadata.longitude, meta.metadata.elevation = json.null, json.null, json.null
  end
  return meta
end

-- ------------------------------------------------------------------ quoting

-- quote one argument for the shell that runs darktable.control.execute:
-- POSIX sh (single quotes; a ' becomes '\'') or Windows cmd.exe (double
-- quotes; cmd has no escape for " inside quotes, so a path containing one
-- is refused rather than run wrongly).
function logic.shell_quote(s, windows)
  s = tostring(s)
  if windows then
    if s:find('"', 1, true) or s:find("[\r\n]") then
      error("cannot quote for cmd.exe: " .. s, 0)
    end
    return '"' .. s:gsub("%%", "%%%%") .. '"'
  end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

-- curl -F value that uploads a file: name=@"path" with " and \ escaped
-- (curl's own syntax; keeps ; and , inside file names harmless)
function logic.curl_file_field(name, path, mime)
  local quoted = '"' .. tostring(path):gsub('[\\"]', "\\%0") .. '"'
  local v = name .. "=@" .. quoted
  if mime then v = v .. ";type=" .. mime end
  return v
end

-- ------------------------------------------------------------------ answers

local CURL_REASONS = {
  [6] = tr("could not resolve the helper's address"),
  [7] = tr("could not connect to the helper"),
  [28] = tr("the helper did not answer in time"),
  [52] = tr("the helper closed the connection without answering"),
  [55] = tr("the connection to the helper broke while sending"),
  [56] = tr("the connection to the helper broke while receiving"),
}

-- Did a failed post certainly not reach the helper? Then posting it again cannot make a second
-- job. After a timeout or a broken connection the helper may already have queued the photo.
function logic.safe_to_post_again(result)
  if result.kind == "auth" then return true end  -- refused before anything was kept
  return result.kind == "unreachable" and (result.curl == 6 or result.curl == 7)
end

-- curl's exit code from its stderr ("curl: (7) Failed to connect ...")
function logic.curl_code(stderr_text)
  local code = tostring(stderr_text or ""):match("curl: %((%d+)%)")
  return code and tonumber(code) or nil
end

-- ("7", "curl: (7) ...") -> "could not connect to the helper (curl: (7) ...)"
local function curl_failure(stderr_text)
  local code = logic.curl_code(stderr_text)
  local detail = trim(tostring(stderr_text or ""):match("[^\n]+") or "")
  local reason = (code and CURL_REASONS[code]) or tr("curl failed")
  if detail ~= "" then reason = reason .. " (" .. detail .. ")" end
  return reason, code
end

local function error_message(body, http_code)
  local data = json.decode(body or "")
  if type(data) == "table" and type(data.error) == "table" and type(data.error.message) == "string"
      and data.error.message ~= "" then
    return data.error.message, data.error.code
  end
  local text = trim(tostring(body or ""):sub(1, 200))
  if text ~= "" and not text:find("^[<{]") then
    return string.format(tr("the helper answered HTTP %s: %s"), tostring(http_code), text)
  end
  return string.format(tr("the helper answered HTTP %s"), tostring(http_code))
end

--[[
  Interpret one curl run against the helper.
  rc: the status darktable.control.execute returned (compare with ~= 0)
  http_code: what curl wrote for -w '%{http_code}'
  body: the response body; stderr_text: curl's stderr
  expect: the HTTP status that means success (200, 201)
  -> { ok = true, data = <decoded body> }
  or { ok = false, kind = "unreachable"|"auth"|"refused"|"server"|"protocol", reason = "...", code = "..." }
]]
function logic.interpret(rc, http_code, body, stderr_text, expect)
  expect = expect or 200
  local status = tonumber(trim(http_code or ""))
  if rc ~= 0 and (status == nil or status == 0) then
    local reason, code = curl_failure(stderr_text)
    return { ok = false, kind = "unreachable", reason = reason, curl = code }
  end
  if status == nil or status == 0 then
    return { ok = false, kind = "unreachable", reason = tr("no answer from the helper") }
  end
  if status == expect then
    local data, err = json.decode(body or "")
    if type(data) ~= "table" then
      return { ok = false, kind = "protocol", reason = tr("the helper's answer was not understood: ") .. tostring(err) }
    end
    return { ok = true, data = data, status = status }
  end
  local message, code = error_message(body, status)
  local kind = "refused"
  if status == 401 or status == 403 then kind = "auth"
  elseif status >= 500 then kind = "server" end
  return { ok = false, kind = kind, reason = message, code = code, status = status }
end

-- the answer to POST /api/v1/uploads: 201 and a job id
function logic.interpret_upload(rc, http_code, body, stderr_text)
  local r = logic.interpret(rc, http_code, body, stderr_text, 201)
  if r.ok and (type(r.data.id) ~= "string" and type(r.data.id) ~= "number") then
    return { ok = false, kind = "protocol", reason = tr("the helper accepted the photo but gave no job id") }
  end
  if r.ok then r.id = tostring(r.data.id) end
  return r
end

-- ------------------------------------------------------------------ progress and summary

-- fraction done of a list of jobs: final jobs count 1, others by bytes sent
function logic.progress(jobs, expected)
  local n = math.max(expected or 0, #jobs)
  if n == 0 then return 1 end
  local done = 0
  for _, job in ipairs(jobs) do
    if logic.FINAL[job.status] then
      done = done + 1
    elseif type(job.progress) == "table" and tonumber(job.progress.total) and tonumber(job.progress.total) > 0 then
      done = done + 0.9 * math.min(1, (tonumber(job.progress.done) or 0) / tonumber(job.progress.total))
    end
  end
  return math.max(0, math.min(1, done / n))
end

function logic.all_final(jobs, ids)
  local by_id = {}
  for _, job in ipairs(jobs or {}) do by_id[tostring(job.id)] = job end
  for _, id in ipairs(ids) do
    local job = by_id[id]
    if not job or not logic.FINAL[job.status] then return false end
  end
  return true
end

local function reason_of(job)
  if type(job.error) == "table" and type(job.error.message) == "string" and job.error.message ~= "" then
    return job.error.message
  end
  return job.status
end

local function plural(n, one, many)
  return string.format(tr(n == 1 and one or many), n)
end

local function list_titles(titles)
  if #titles <= 2 then return table.concat(titles, ", ") end
  return titles[1] .. ", " .. titles[2] .. string.format(tr(", … (%d more)"), #titles - 2)
end

local function list_reasons(items)
  -- items: { {file=, reason=} }; same reasons grouped, at most three shown
  local order, by_reason = {}, {}
  for _, it in ipairs(items) do
    if not by_reason[it.reason] then
      by_reason[it.reason] = {}
      order[#order + 1] = it.reason
    end
    table.insert(by_reason[it.reason], it.file)
  end
  local parts = {}
  for i, reason in ipairs(order) do
    if i > 3 then
      parts[#parts + 1] = string.format(tr("… (%d more reasons)"), #order - 3)
      break
    end
    local files = by_reason[reason]
    local who = files[1] or "?"
    if #files > 1 then who = who .. string.format(tr(" and %d more"), #files - 1) end
    parts[#parts + 1] = who .. ": " .. reason
  end
  return table.concat(parts, "; ")
end

--[[
  The summary shown in darktable after an export.
  s = {
    jobs = { job, ... }                -- last known state of every accepted job
    files = { [job id] = file name }   -- for messages
    failures = { {file=, reason=} }    -- photos never handed to the helper
    helper_lost = "reason" | nil        -- the helper stopped answering
    timed_out = bool, cancelled = bool  -- the wait ended before all jobs were final
    watch = "commons-helper open"       -- how to watch the queue
  }
]]
function logic.summarize(s)
  local counts = { uploaded = 0, ["new-version"] = 0 }
  local dup_titles, unchanged_titles, attention, failed, pending = {}, {}, {}, {}, 0
  local cancelled = 0
  for _, job in ipairs(s.jobs or {}) do
    local st = job.status
    local file = (s.files and s.files[tostring(job.id)]) or job.file or "?"
    if st == "uploaded" or st == "new-version" then
      counts[st] = counts[st] + 1
    elseif st == "duplicate" then
      dup_titles[#dup_titles + 1] = job.title or "?"
    elseif st == "unchanged" then
      unchanged_titles[#unchanged_titles + 1] = job.title or "?"
    elseif st == "needs-attention" then
      attention[#attention + 1] = { file = file, reason = reason_of(job) }
    elseif st == "failed" then
      failed[#failed + 1] = { file = file, reason = reason_of(job) }
    elseif st == "cancelled" then
      cancelled = cancelled + 1
    else
      pending = pending + 1
    end
  end
  for _, f in ipairs(s.failures or {}) do failed[#failed + 1] = f end

  local parts = {}
  if counts.uploaded > 0 then parts[#parts + 1] = string.format(tr("%d uploaded"), counts.uploaded) end
  if counts["new-version"] > 0 then
    parts[#parts + 1] = plural(counts["new-version"], "%d uploaded as a new version", "%d uploaded as new versions")
  end
  if #dup_titles > 0 then
    parts[#parts + 1] = string.format(tr("%d already on Commons as %s"), #dup_titles, list_titles(dup_titles))
  end
  if #unchanged_titles > 0 then
    parts[#parts + 1] = string.format(tr("%d unchanged on Commons (%s)"), #unchanged_titles, list_titles(unchanged_titles))
  end
  if #attention > 0 then
    parts[#parts + 1] = string.format(tr("%d needs attention: %s"), #attention, list_reasons(attention))
  end
  if #failed > 0 then
    parts[#parts + 1] = string.format(tr("%d failed: %s"), #failed, list_reasons(failed))
  end
  if cancelled > 0 then parts[#parts + 1] = string.format(tr("%d cancelled"), cancelled) end
  local watch = s.watch or "commons-helper open"
  if pending > 0 then
    if s.helper_lost then
      parts[#parts + 1] = string.format(
        tr("%d not finished because the helper stopped answering: %s; they are kept in its queue and continue when it runs again (commons-helper serve); watch them with %s"),
        pending, s.helper_lost, watch)
    else
      parts[#parts + 1] = string.format(
        tr("%d still uploading in the helper%s; watch them with %s"),
        pending, s.cancelled and "" or tr(" after the wait here ended"), watch)
    end
  end
  if #parts == 0 then return tr("Wikimedia Commons: nothing was exported") end
  local needs_look = #attention > 0 or #failed > 0
  local tail = needs_look and string.format(tr(" — details: %s"), watch) or ""
  return tr("Wikimedia Commons: ") .. table.concat(parts, ", ") .. tail
end

-- a batch id for one export
function logic.batch_id(now, rand)
  return string.format("darktable-%d-%06x", math.tointeger(now) or 0, (math.tointeger(rand) or 0) % 0x1000000)
end

-- compare "9.0.0" style versions: true when have >= need
function logic.version_at_least(have, need)
  local function parts(v)
    local t = {}
    for n in tostring(v or ""):gmatch("%d+") do t[#t + 1] = tonumber(n) end
    return t
  end
  local a, b = parts(have), parts(need)
  for i = 1, math.max(#a, #b) do
    local x, y = a[i] or 0, b[i] or 0
    if x ~= y then return x > y end
  end
  return true
end

-- the language code from a locale name ("de_DE.UTF-8" -> "de"); "en" when unknown
function logic.language_from_locale(locale)
  local lang = tostring(locale or ""):match("^(%a%a%a?)[_.@-]") or tostring(locale or ""):match("^(%a%a%a?)$")
  if not lang or lang:lower() == "c" or lang:lower() == "posix" then return "en" end
  return lang:lower()
end

return logic
