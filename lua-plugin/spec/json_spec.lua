local json = require "commons_export.json"

describe("json.encode", function()
  it("encodes scalars", function()
    assert.equal("null", json.encode(nil))
    assert.equal("null", json.encode(json.null))
    assert.equal("true", json.encode(true))
    assert.equal("false", json.encode(false))
    assert.equal("42", json.encode(42))
    assert.equal("-7", json.encode(-7))
    assert.equal("1.5", json.encode(1.5))
    assert.equal("35", json.encode(35.0))
    assert.equal("null", json.encode(0 / 0))
    assert.equal("null", json.encode(math.huge))
  end)

  it("formats coordinates with eight decimals at most and a dot", function()
    assert.equal("48.8566", json.encode(48.8566))
    assert.equal("-2.35", json.encode(-2.35))
    assert.equal("0.000001", json.encode(0.000001))
    assert.equal("-0.000001", json.encode(-0.000001))
    assert.equal("0", json.encode(0.000000001))
    assert.equal("179.99999999", json.encode(179.99999999))
    assert.equal("12.34567891", json.encode(12.345678912))
  end)

  it("escapes quotes, backslashes and control characters", function()
    assert.equal([["a\"b\\c\n\r\t\b\f\u0001\u001f"]], json.encode("a\"b\\c\n\r\t\b\f\1\31"))
    assert.equal([==["}}{{[[x]]|~~~~"]==], json.encode("}}{{[[x]]|~~~~"))
  end)

  it("keeps UTF-8 as it is and repairs invalid bytes", function()
    assert.equal('"Pont Neuf – Île de la Cité 😀"', json.encode("Pont Neuf – Île de la Cité 😀"))
    assert.equal('"a\239\191\189b"', json.encode("a\255b"))
    assert.equal('"\239\191\189"', json.encode("\195"))  -- truncated sequence
  end)

  it("tells arrays from objects, sorts keys, marks empty arrays", function()
    assert.equal("[1,2,3]", json.encode({ 1, 2, 3 }))
    assert.equal("{}", json.encode({}))
    assert.equal("[]", json.encode(json.array()))
    assert.equal('{"a":1,"b":[],"c":{"d":null}}', json.encode({ c = { d = json.null }, b = json.array(), a = 1 }))
  end)

  it("refuses what JSON cannot hold", function()
    assert.has_error(function() json.encode({ [true] = 1 }) end)
    assert.has_error(function() json.encode(print) end)
    local t = {}
    t.self = t
    assert.has_error(function() json.encode(t) end)
  end)
end)

describe("json.decode", function()
  it("decodes objects, arrays and scalars", function()
    local v = json.decode(' {"a": [1, 2.5, -3e2, true, false, null, "x"], "b": {}} ')
    assert.same(1, v.a[1])
    assert.equal("integer", math.type(v.a[1]))
    assert.equal(2.5, v.a[2])
    assert.equal(-300, v.a[3])
    assert.is_true(v.a[4])
    assert.is_false(v.a[5])
    assert.is_nil(v.a[6])
    assert.equal("x", v.a[7])
    assert.equal(7, v.a.n)
    assert.same({}, v.b)
    assert.equal(json.null, json.decode("null"))
  end)

  it("decodes escapes and unicode, including surrogate pairs", function()
    assert.equal('a"b\\c/d\n\t', json.decode([["a\"b\\c\/d\n\t"]]))
    assert.equal("é", json.decode([["\u00e9"]]))
    assert.equal("€", json.decode([["\u20AC"]]))
    assert.equal("😀", json.decode([["\ud83d\ude00"]]))
    assert.equal("\239\191\189x", json.decode([["\ud83dx"]]))  -- lone high surrogate
    assert.equal("Île", json.decode('"Île"'))
  end)

  it("round-trips what the plugin sends", function()
    local meta = {
      batch = "darktable-1-abc",
      metadata = { title = "Pont \"Neuf\" }}", tags = json.array({ "Category|Bridges", "places|Paris" }),
        latitude = 48.85661234, longitude = -2.35, elevation = json.null },
    }
    local back = json.decode(json.encode(meta))
    assert.equal(meta.metadata.title, back.metadata.title)
    assert.equal(48.85661234, back.metadata.latitude)
    assert.equal(-2.35, back.metadata.longitude)
    assert.is_nil(back.metadata.elevation)
    assert.equal("places|Paris", back.metadata.tags[2])
  end)

  it("reports errors instead of raising", function()
    for _, bad in ipairs({ "", "{", "[1,]", '{"a" 1}', '"abc', "01", "1.", "tru", '"\\x"', "[1] x",
      '"a\nb"', "{1:2}", "-", ".5" }) do
      local v, err = json.decode(bad)
      assert.is_nil(v, bad)
      assert.matches("^invalid JSON", err, 1, false)
    end
    local v, err = json.decode(nil)
    assert.is_nil(v)
    assert.truthy(err)
  end)
end)

describe("numbers in a locale with a decimal comma", function()
  -- test_lua_specs.py builds de_DE.UTF-8 with localedef and sets LOCPATH
  local locale
  for _, name in ipairs({ "de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "de_DE" }) do
    if os.setlocale(name, "numeric") then locale = name break end
  end
  after_each(function() os.setlocale("C", "numeric") end)

  if not locale then
    pending("no locale with a decimal comma is installed")
    return
  end

  it("the C library really writes a comma under " .. locale, function()
    os.setlocale(locale, "numeric")
    assert.equal("1,5", string.format("%.1f", 1.5))
  end)

  it("still encodes and decodes with a dot", function()
    os.setlocale(locale, "numeric")
    assert.equal('{"h":1e+20,"lat":48.8566,"lon":-2.35}', json.encode({ lat = 48.8566, lon = -2.35, h = 1e20 }))
    assert.equal("48.85661234", json.number(48.85661234))
    local v = json.decode('{"x": 48.85661234}')
    assert.equal(48.85661234, v.x)
  end)
end)
