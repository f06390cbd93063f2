local fake = require "fake_darktable"
local json = require "commons_export.json"

local function tmpdir()
  local base = os.tmpname()
  os.remove(base)
  assert(os.execute("mkdir -p '" .. base .. "'"))
  return base
end

local function exported(dir, name, text)
  local path = dir .. "/" .. name
  fake.write(path, text or "JPEGDATA")
  return path
end

local function image(id, fields)
  local img = { id = id, path = "/photos", filename = "img" .. id .. ".NEF", duplicate_index = 0,
    title = "Photo " .. id, description = "", creator = "Ada", rights = "", exif_datetime_taken = "",
    exif_maker = "", exif_model = "", exif_lens = "", _tags = {} }
  for k, v in pairs(fields or {}) do img[k] = v end
  return img
end

local function has_tag(img, name)
  for _, t in ipairs(img._tags) do
    if (type(t) == "table" and t.name or t) == name then return true end
  end
  return false
end

-- one export: initialize, store each image, finalize
local function export(dt, images, dir)
  local s = dt.storages.commons_export
  local extra = {}
  assert.is_nil(s.initialize(s, { extension = "jpg" }, images, false, extra))
  local table_ = {}
  for i, img in ipairs(images) do
    local file = exported(dir, "img" .. img.id .. ".jpg")
    s.store(s, img, { extension = "jpg" }, file, i, #images, false, extra)
    table_[img] = file
  end
  s.finalize(s, table_, extra)
  return extra
end

describe("the plugin in a fake darktable", function()
  local dt, dir, helper

  before_each(function()
    dir = tmpdir()
    dt = fake.new({ tmp_dir = dir, cache_dir = dir })
  end)
  after_each(function() os.execute("rm -rf '" .. dir .. "'") end)

  it("loads in lua-scripts style without globals and registers the storage", function()
    local script_data, globals = fake.load_plugin(dt)
    assert.same({}, globals)
    local s = dt.storages.commons_export
    assert.truthy(s)
    assert.equal("Wikimedia Commons", s.label)
    assert.equal("function", type(script_data.destroy))
    assert.equal("commons_export", script_data.metadata.name)
    assert.truthy(script_data.metadata.purpose)
    for _, ext in ipairs({ "jpg", "png", "tif", "webp" }) do assert.is_true(s.supported(s, { extension = ext })) end
    for _, ext in ipairs({ "exr", "pfm", "j2k", "pdf", "xcf", "avif" }) do assert.is_false(s.supported(s, { extension = ext })) end
    assert.equal("enum", dt.registered["commons_export/default_license"].kind)
    assert.equal("string", dt.registered["commons_export/author"].kind)
    assert.equal("string", dt.registered["commons_export/helper_command"].kind)
    script_data.destroy()
    assert.is_nil(dt.storages.commons_export)
    script_data.restart()
    assert.truthy(dt.storages.commons_export)
  end)

  it("refuses to load on an older Lua API, saying why", function()
    dt.configuration.api_version_string = "8.0.0"
    fake.load_plugin(dt)
    assert.is_nil(dt.storages.commons_export)
    assert.matches("needs darktable's Lua API 9.0.0", dt.prints[1], 1, true)
  end)

  it("hands each photo to the helper, removes the temp file, tags the image", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local a = image(1, { _tags = { "Category|Bridges", "Wikimedia Commons|File|Old name.jpg" }, latitude = 48.5, longitude = 2.25 })
    local b = image(2)
    export(dt, { a, b }, dir)
    assert.equal(2, #helper.uploads)
    assert.is_true(helper.uploads[1].exists)
    assert.is_nil(fake.read(dir .. "/img1.jpg"), "temp file removed")
    assert.is_nil(fake.read(dir .. "/img2.jpg"), "temp file removed")
    local m = helper.uploads[1].meta
    assert.equal("File:Old name.jpg", m.source.commons_title)
    assert.same({ "Category|Bridges" }, { table.unpack(m.metadata.tags) })
    assert.equal(48.5, m.metadata.latitude)
    assert.equal(m.batch, helper.uploads[2].meta.batch)
    assert.truthy(has_tag(a, "Wikimedia Commons|uploaded"))
    assert.truthy(has_tag(a, "Wikimedia Commons|File|Photo 1.jpg"))
    assert.falsy(has_tag(a, "Wikimedia Commons|File|Old name.jpg"), "points to the latest file only")
    assert.truthy(has_tag(b, "Wikimedia Commons|File|Photo 2.jpg"))
    assert.equal("Wikimedia Commons: 2 uploaded", dt.prints[#dt.prints])
    assert.equal(1, #dt.jobs)
    assert.is_false(dt.jobs[1].valid)
    assert.equal(1, dt.jobs[1].percent)
  end)

  it("asks for the runtime path once per session and never puts the secret on a command line", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true, secret = "topsecret123" })
    export(dt, { image(1) }, dir)
    export(dt, { image(2) }, dir)
    local paths_calls = 0
    for _, c in ipairs(dt.commands) do
      assert.not_matches("topsecret123", c, 1, true)
      if c:find("paths --json", 1, true) then paths_calls = paths_calls + 1 end
    end
    assert.equal(1, paths_calls)
    for _, h in ipairs(helper.headers) do assert.equal("Authorization: Bearer topsecret123\n", h) end
    for k, v in pairs(dt.prefs) do assert.not_matches("topsecret123", tostring(v), 1, true, k) end
  end)

  it("writes the header file readable by the owner only and removes it", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local header
    local orig = dt.execute_handler
    dt.execute_handler = function(cmd)
      local h = cmd:match("%-H '@([^']+)'")
      if h and not header then
        header = h
        local p = io.popen("stat -c %a '" .. h .. "'")
        helper.mode = p:read("l")
        p:close()
      end
      return orig(cmd)
    end
    export(dt, { image(1) }, dir)
    assert.equal("600", helper.mode)
    assert.is_nil(fake.read(header))
  end)

  it("follows a new secret after the helper restarted", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true, secret = "one" })
    local s = dt.storages.commons_export
    local extra = {}
    s.initialize(s, {}, {}, false, extra)
    s.store(s, image(1), {}, exported(dir, "a.jpg"), 1, 2, false, extra)
    helper.secret = "two"
    helper.start()
    s.store(s, image(2), {}, exported(dir, "b.jpg"), 2, 2, false, extra)
    assert.equal(2, #helper.uploads)
    assert.equal(0, #extra.commons.failures)
  end)

  it("starts the helper when it is not running", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = false })
    export(dt, { image(1) }, dir)
    assert.equal(1, helper.started)
    local serve
    for _, c in ipairs(dt.commands) do if c:find(" serve ", 1, true) then serve = c end end
    assert.matches("^nohup commons%-helper serve >'.*' 2>&1 </dev/null &$", serve)
    assert.equal(1, #helper.uploads)
    assert.equal("Wikimedia Commons: 1 uploaded", dt.prints[#dt.prints])
  end)

  it("says clearly when the helper cannot be started, once per export, and keeps no temp file", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = false })
    helper.start_works = false
    fake.write(dir .. "/commons-helper-serve.log", "commons-helper: the config file is broken\n")
    local imgs = { image(1), image(2), image(3) }
    local t0 = os.time()
    export(dt, imgs, dir)
    assert.equal(1, helper.started)
    assert.equal(0, #helper.uploads)
    local msg = dt.prints[#dt.prints]
    assert.matches("3 failed: img1.jpg and 2 more: the helper service is not running and did not start", msg, 1, true)
    assert.matches("the config file is broken", msg, 1, true)
    for _, img in ipairs(imgs) do assert.is_nil(fake.read(dir .. "/img" .. img.id .. ".jpg")) end
    assert.is_true(os.time() - t0 < 5, "sleeps are darktable's, not real")
  end)

  it("says what to do when commons-helper is not installed", function()
    fake.load_plugin(dt)
    dt.execute_handler = function(cmd)
      local err = cmd:match("2>'([^']*)'")
      if err then fake.write(err, "sh: 1: commons-helper: not found\n") end
      return 127 * 256
    end
    export(dt, { image(1) }, dir)
    local msg = dt.prints[#dt.prints]
    assert.matches("1 failed: img1.jpg: could not run `commons-helper paths --json` (sh: 1: commons-helper: not found)", msg, 1, true)
    assert.matches("helper command", msg, 1, true)
  end)

  it("uses the helper command from the preferences, quoted", function()
    dt.prefs["commons_export/helper_command"] = dir .. "/my helper"
    fake.write(dir .. "/my helper", "#!/bin/sh\n")
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    export(dt, { image(1) }, dir)
    assert.equal("'" .. dir .. "/my helper' paths --json", dt.commands[1]:match("^(.-) >"))
  end)

  it("shows the helper's reason when it refuses a photo, and tags nothing", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    helper.on_upload = function()
      return 400, json.encode({ error = { code = "no-license", message = "No license: pick one in the export module" } })
    end
    local img = image(1)
    export(dt, { img }, dir)
    assert.equal("Wikimedia Commons: 1 failed: img1.jpg: No license: pick one in the export module — details: commons-helper open",
      dt.prints[#dt.prints])
    assert.is_false(has_tag(img, "Wikimedia Commons|uploaded"))
    assert.is_nil(fake.read(dir .. "/img1.jpg"))
    assert.equal(0, #dt.jobs, "no progress job for nothing")
  end)

  it("reports needs-attention and duplicates from the batch", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    helper.jobs_answer = function(batch)
      return 200, json.encode({ jobs = {
        { id = "job1", status = "duplicate", title = "File:Existing.jpg" },
        { id = "job2", status = "needs-attention", error = { code = "bad-title", message = "the title is taken" } },
        { id = "other", status = "uploaded", title = "File:Not ours.jpg" },
      } })
    end
    local a, b = image(1), image(2)
    export(dt, { a, b }, dir)
    assert.equal("Wikimedia Commons: 1 already on Commons as File:Existing.jpg, 1 needs attention: img2.jpg: "
      .. "the title is taken — details: commons-helper open", dt.prints[#dt.prints])
    assert.is_true(has_tag(a, "Wikimedia Commons|File|Existing.jpg"))
    assert.is_false(has_tag(b, "Wikimedia Commons|uploaded"))
  end)

  it("says when the helper dies during the batch, without hanging", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    helper.jobs_answer = function()
      helper.running = false
      return 200, json.encode({ jobs = { { id = "job1", status = "uploading" } } })
    end
    export(dt, { image(1) }, dir)
    local msg = dt.prints[#dt.prints]
    assert.matches("1 not finished because the helper stopped answering: could not connect to the helper", msg, 1, true)
    assert.matches("commons-helper open", msg, 1, true)
    assert.is_true(dt.sleeps < 10)
    assert.is_false(dt.jobs[1].valid)
  end)

  it("stops waiting after the wait and says the uploads go on", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    helper.jobs_answer = function()
      return 200, json.encode({ jobs = { { id = "job1", status = "uploading", progress = { done = 5, total = 10 } } } })
    end
    export(dt, { image(1) }, dir)
    local msg = dt.prints[#dt.prints]
    assert.matches("1 still uploading in the helper after the wait here ended; watch them with commons-helper open", msg, 1, true)
    assert.equal(0.45, dt.jobs[1].percent)
  end)

  it("waits with `sleep` through darktable.control.execute, never dt.control.sleep", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local real_sleep = dt.control.sleep
    dt.control.sleep = function() error("dt.control.sleep used") end
    local polls = 0
    helper.jobs_answer = function()
      polls = polls + 1
      return 200, json.encode({ jobs = { { id = "job1", status = polls < 3 and "uploading" or "uploaded", title = "File:X.jpg" } } })
    end
    export(dt, { image(1) }, dir)
    dt.control.sleep = real_sleep
    assert.equal(2, dt.sleeps)
    assert.equal("Wikimedia Commons: 1 uploaded", dt.prints[#dt.prints])
  end)

  it("stops waiting at once when the photographer cancels", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    helper.jobs_answer = function()
      return 200, json.encode({ jobs = { { id = "job1", status = "queued" } } })
    end
    dt.on_sleep = function() dt.jobs[1].cancel(dt.jobs[1]) end
    export(dt, { image(1) }, dir)
    assert.equal(1, dt.sleeps)
    assert.matches("1 still uploading in the helper; watch them", dt.prints[#dt.prints], 1, true)
  end)

  it("counts an error thrown inside store instead of losing it", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local img = image(1)
    dt.tags.get_tags = function() error("database is locked") end
    export(dt, { img }, dir)
    assert.matches("1 failed: img1.jpg: .*database is locked", dt.prints[#dt.prints])
  end)

  it("refuses formats Commons does not take even if darktable calls store", function()
    fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local s = dt.storages.commons_export
    local extra = {}
    s.initialize(s, {}, {}, false, extra)
    local f = exported(dir, "x.exr")
    s.store(s, image(1), {}, f, 1, 1, false, extra)
    s.finalize(s, {}, extra)
    assert.matches("Commons does not take .exr files", dt.prints[#dt.prints], 1, true)
    assert.is_nil(fake.read(f))
  end)

  it("sends the widget's choices and remembers them, but not the categories", function()
    dt.prefs["commons_export/author"] = "Ada Lovelace"
    local sd = fake.load_plugin(dt)
    helper = fake.helper(dt, { runtime = dir .. "/helper.json", running = true })
    local w = dt.storages.commons_export.widget
    local function find(pred)
      for _, c in ipairs(w) do if type(c) == "table" and pred(c) then return c end end
    end
    local license = find(function(c) return c.__kind == "combobox" and c.label == "license" end)
    local custom = find(function(c) return c.__kind == "entry" and (c.placeholder or ""):find("license template") end)
    local cats = find(function(c) return c.__kind == "entry" and (c.placeholder or ""):find("categories") end)
    local strip = find(function(c) return c.__kind == "check_button" end)
    local reexport = find(function(c) return c.__kind == "combobox" and c.label == "re-export" end)
    assert.equal(1, license.selected)
    license.selected = #license
    license.changed_callback(license)
    assert.is_true(custom.visible)
    custom.text = "{{self|GFDL|cc-by-sa-4.0}}"
    cats.text = "Bridges in Paris; Category:Seine"
    strip.value = true
    reexport.selected = 2
    export(dt, { image(1, { latitude = 1.5, longitude = 2.5 }) }, dir)
    local o = helper.uploads[1].meta.options
    assert.equal("{{self|GFDL|cc-by-sa-4.0}}", o.license)
    assert.same({ "Bridges in Paris", "Seine" }, { table.unpack(o.categories) })
    assert.is_true(o.strip_location)
    assert.equal("new-file", o.on_reexport)
    assert.equal("Ada Lovelace", o.author)
    assert.is_nil(helper.uploads[1].meta.metadata.latitude)
    assert.is_true(dt.prefs["commons_export/last_strip_location"])
    assert.equal("{{self|GFDL|cc-by-sa-4.0}}", dt.prefs["commons_export/last_custom_license"])
    for k in pairs(dt.prefs) do assert.not_matches("categor", k) end
    sd.destroy()
  end)

  it("starts the widget with the default license from the preferences", function()
    dt.prefs["commons_export/default_license"] = "CC0 (public domain dedication)"
    fake.load_plugin(dt)
    local w = dt.storages.commons_export.widget
    assert.equal(4, w[1].selected)
  end)
end)
