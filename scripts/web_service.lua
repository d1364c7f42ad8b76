-- wrk script for the web_service example: 3 product reads for every order.
local counter = 0
request = function()
  counter = counter + 1
  if counter % 4 == 0 then
    local body = string.format('{"product_id":%d,"quantity":%d,"note":"wrk"}', counter % 1000, 1 + counter % 5)
    return wrk.format("POST", "/orders", {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/products/" .. (counter % 1000))
end
